"""Whose samples: tokens and account ids become folders only checked and hashed."""

import pytest

from model.store.collection import (
    CollectionError,
    account_store,
    all_stores,
    is_token,
    local_store,
    new_token,
    visitor_store,
)
from model.store.ratelimit import RateLimit


def test_tokens_are_128_random_bits():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000 and all(is_token(t) and len(t) == 32 for t in tokens)


@pytest.mark.parametrize("bad", ["", "../..", "A" * 32, "0" * 31, "0" * 33, None, 5, "g" * 32, "0" * 31 + "\n"])
def test_only_real_tokens_name_a_collection(tmp_path, bad):
    with pytest.raises(CollectionError):
        visitor_store(bad, tmp_path)


def test_folders_are_hashes_inside_the_root(tmp_path):
    token = new_token()
    folder = visitor_store(token, tmp_path).folder
    assert folder.parent == tmp_path / "visitors" and token not in str(folder)
    account = account_store("https://issuer|../../etc", tmp_path).folder
    assert account.parent == tmp_path / "accounts"
    assert visitor_store(token, tmp_path).folder == folder, "the same token opens the same collection"
    with pytest.raises(CollectionError):
        account_store("x" * 1000, tmp_path)


def test_all_stores_lists_every_collection(tmp_path):
    local_store(tmp_path).add(_image(), 1)
    visitor_store(new_token(), tmp_path).add(_image(), 2)
    account_store("someone", tmp_path).add(_image(), 3)
    assert len(all_stores(tmp_path)) == 3


def test_rate_limit_allows_count_per_window():
    limit = RateLimit(3, 60)
    assert [limit.allow(now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limit.wait(now=3) == pytest.approx(57)
    assert limit.allow(now=61)


def _image():
    import numpy as np

    image = np.zeros((28, 28), np.uint8)
    image[5:20, 10:14] = 255
    return image
