"""Whose samples: tokens and account ids become collection keys only checked and hashed; limits all share."""

import threading

import pytest

from model.store.collection import (
    CollectionError,
    account_store,
    is_token,
    local_store,
    named_store,
    new_token,
    visitor_store,
)
from model.store.ratelimit import RateLimit


def test_tokens_are_128_random_bits():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000 and all(is_token(t) and len(t) == 32 for t in tokens)


@pytest.mark.parametrize("bad", ["", "../..", "A" * 32, "0" * 31, "0" * 33, None, 5, "g" * 32, "0" * 31 + "\n"])
def test_only_real_tokens_name_a_collection(bad):
    with pytest.raises(CollectionError):
        visitor_store(bad)


def test_keys_are_hashes_that_do_not_reveal_the_token():
    token = new_token()
    key = visitor_store(token).key
    assert key.startswith("visitors/") and token not in key and len(key) == len("visitors/") + 32
    assert visitor_store(token).key == key, "the same token opens the same collection"
    account = account_store("https://issuer|../../etc").key
    assert account.startswith("accounts/") and "etc" not in account
    with pytest.raises(CollectionError):
        account_store("x" * 1000)


def test_the_command_line_names_a_collection_by_local_or_its_code():
    token = new_token()
    assert named_store("local").key == local_store().key
    assert named_store(token).key == visitor_store(token).key
    with pytest.raises(CollectionError, match="names no collection"):
        named_store("../data/my_digits")


def test_rate_limit_allows_count_per_window(database_url):
    limit = RateLimit(3, 60)
    assert [limit.allow("saves:a", database_url, now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limit.wait("saves:a", database_url, now=3) == pytest.approx(57)
    assert limit.allow("saves:b", database_url, now=3), "another scope counts apart"
    assert limit.allow("saves:a", database_url, now=61)


def test_rows_of_scopes_that_never_come_back_are_forgotten_after_a_day(database_url):
    from sqlalchemy import select

    from model.store.db import reading
    from model.store.ratelimit import KEPT_S
    from model.store.schema import rate_events

    limit = RateLimit(5, 60)
    assert limit.allow("password:10.0.0.1", database_url, now=0)  # an address that tries once, never again
    assert limit.allow("password:10.0.0.2", database_url, now=KEPT_S + 1)
    with reading("list the rows", database_url) as db:
        scopes = list(db.execute(select(rate_events.c.scope)).scalars())
    assert scopes == ["password:10.0.0.2"]
    with pytest.raises(ValueError, match="window"):
        RateLimit(5, KEPT_S + 1)


def test_a_rate_limit_holds_when_many_servers_ask_at_once(database_url):
    """Every replica counts the same rows: of 12 tries at once, exactly the allowed 5 pass."""
    limit = RateLimit(5, 60)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(limit.allow("password:1.2.3.4", database_url)))
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5 and results.count(False) == 7
