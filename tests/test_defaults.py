"""The default every visitor gets, in the database (SQLite and PostgreSQL): one row a save, checked, rolled back."""

import json
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import update

from model.reading.network import ModelFileError, NumpyNetwork
from model.settings import KEPT_DEFAULTS
from model.store.card import ModelCard, Scores
from model.store.db import engine
from model.store.defaults import current_default, earlier_defaults, main, publish, roll_back, version
from model.store.network import Network
from model.store.network_file import SHIPPED
from model.store.schema import default_networks

SHIPPED_HIDDEN = NumpyNetwork.load(SHIPPED).hidden


@pytest.fixture(scope="module")
def small():
    """A tiny network with a card."""
    sizes = (784, 8, 10)
    rng = np.random.default_rng(0)
    weights = [
        a for n, m in zip(sizes, sizes[1:]) for a in (rng.normal(0, 0.1, (n, m)).astype("f4"), np.zeros(m, "f4"))
    ]
    return Network(NumpyNetwork.from_arrays(weights), ModelCard(test=Scores(0.75, 0.5, 10)))


def test_with_nothing_saved_the_shipped_network_is_the_default(database_url):
    network, problem = current_default(database_url)
    assert problem is None and network.name == "Default" and network.net.hidden == SHIPPED_HIDDEN
    assert version(database_url) == 0 and earlier_defaults(database_url) == []


def test_a_saved_default_is_read_by_every_server_and_the_shipped_one_is_kept(database_url, small):
    name = publish(small, database_url)
    engine(database_url).dispose()  # another server: nothing in memory, only the database
    network, problem = current_default(database_url)
    assert network.net.hidden == (8,) and network.card.accuracy == 0.75 and problem is None
    assert all((a == b).all() for a, b in zip(network.net.weights(), small.net.weights()))
    assert version(database_url) != 0
    [shipped] = earlier_defaults(database_url)
    assert shipped.name != name and shipped.accuracy == pytest.approx(0.9941, abs=0.01), "a rollback can go back"


def test_rollback_restores_and_keeps_the_one_it_replaced(database_url, small):
    publish(small, database_url)
    before = version(database_url)
    [shipped] = earlier_defaults(database_url)
    roll_back(shipped.name, database_url)
    assert current_default(database_url)[0].net.hidden == SHIPPED_HIDDEN
    assert version(database_url) != before, "every server notices"
    assert [e.accuracy for e in earlier_defaults(database_url)] == [0.75]
    with pytest.raises(ModelFileError, match="no earlier default"):
        roll_back("19990101T000000-deadbeef", database_url)


def test_the_history_keeps_the_last_few(database_url, small):
    for n in range(KEPT_DEFAULTS + 3):
        publish(replace(small, card=replace(small.card, test=Scores(n / 100, 0.5, 10))), database_url)
    kept = earlier_defaults(database_url)
    assert len(kept) == KEPT_DEFAULTS
    assert [e.accuracy for e in kept] == [(KEPT_DEFAULTS + 1 - i) / 100 for i in range(KEPT_DEFAULTS)]


def test_a_row_that_does_not_match_its_card_is_not_used(database_url, small):
    """The card's hash check stays: damaged weights give the previous default and a sentence for the owner."""
    publish(small, database_url)
    with engine(database_url).begin() as db:
        db.execute(update(default_networks).where(default_networks.c.current).values(weights=b"PK garbage"))
    network, problem = current_default(database_url)
    assert network.net.hidden == SHIPPED_HIDDEN
    assert "do not match" in problem and "Using the previous default" in problem


def test_a_failed_save_changes_nothing(database_url, small, monkeypatch):
    import model.store.defaults as defaults

    def broken(db):
        raise RuntimeError("the disk went away mid-save")

    monkeypatch.setattr(defaults, "_prune", broken)
    with pytest.raises(RuntimeError):
        publish(small, database_url)
    assert version(database_url) == 0 and earlier_defaults(database_url) == [], "the transaction was rolled back"


def test_the_command_line_lists_and_rolls_back_against_the_database(database_url, small, capsys):
    publish(small, database_url)
    assert main(["list", "--database", database_url]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 99." in out and "current: a saved default" in out
    assert main(["rollback", "--database", database_url]) == 0
    assert current_default(database_url)[0].net.hidden == SHIPPED_HIDDEN
    assert main(["rollback", "nonsense", "--database", database_url]) == 1
    assert "no earlier default" in capsys.readouterr().err


def test_a_stored_row_is_the_pages_weights_and_a_json_card_with_their_hash(database_url, small):
    publish(small, database_url)
    with engine(database_url).connect() as db:
        row = db.execute(default_networks.select().where(default_networks.c.current)).first()
    stored = json.loads(row.card)
    assert stored["weights_sha256"] and row.keras is None
    assert NumpyNetwork.from_npz_bytes(row.weights).hidden == (8,)
