"""The owner's defaults in the database (SQLite and PostgreSQL): saved in one row, checked, rolled back, shared."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard, Scores
from model.store.db import engine
from model.store.defaults import main
from model.store.published import KEEP, current_default, earlier_defaults, publish, roll_back, version
from model.store.schema import default_networks

SHIPPED = Path(__file__).resolve().parent.parent / "model" / "mnist_ann.keras"


@pytest.fixture(scope="module")
def small():
    """A tiny network as a .keras file and as weights, with a card."""
    from model.training.keras_ann import build_ann, keras_bytes

    model = build_ann((8,))
    return keras_bytes(model), NumpyNetwork.from_keras(model), ModelCard(test=Scores(0.75, 0.5, 10))


def test_with_nothing_saved_the_shipped_network_is_the_default(database_url):
    loaded = current_default(SHIPPED, database_url)
    assert loaded.problem is None and loaded.net.hidden == NumpyNetwork.load(SHIPPED).hidden
    assert version(database_url) == 0 and earlier_defaults(database_url) == []


def test_a_saved_default_is_read_by_every_server_and_the_shipped_one_is_kept(database_url, small):
    data, net, card = small
    name = publish(data, card, net, SHIPPED, database_url)
    engine(database_url).dispose()  # another server: nothing in memory, only the database
    loaded = current_default(SHIPPED, database_url)
    assert loaded.net.hidden == (8,) and loaded.card.accuracy == 0.75 and loaded.problem is None
    assert version(database_url) != 0
    [shipped] = earlier_defaults(database_url)
    assert shipped.name != name and shipped.accuracy == pytest.approx(0.9941, abs=0.001), "a rollback can go back"


def test_rollback_restores_and_keeps_the_one_it_replaced(database_url, small):
    data, net, card = small
    publish(data, card, net, SHIPPED, database_url)
    before = version(database_url)
    [shipped] = earlier_defaults(database_url)
    roll_back(shipped.name, database_url)
    assert current_default(SHIPPED, database_url).net.hidden == NumpyNetwork.load(SHIPPED).hidden
    assert version(database_url) != before, "every server notices"
    assert [e.accuracy for e in earlier_defaults(database_url)] == [0.75]
    with pytest.raises(ModelFileError, match="no earlier default"):
        roll_back("19990101T000000-deadbeef", database_url)


def test_the_history_keeps_the_last_few(database_url, small):
    data, net, card = small
    for n in range(KEEP + 3):
        publish(data, replace(card, test=Scores(n / 100, 0.5, 10)), net, SHIPPED, database_url)
    kept = earlier_defaults(database_url)
    assert len(kept) == KEEP and [e.accuracy for e in kept] == [(KEEP + 1 - i) / 100 for i in range(KEEP)]


def test_a_row_that_does_not_match_its_card_is_not_used(database_url, small):
    """The card's hash check stays: damaged weights give the previous default and a sentence for the owner."""
    data, net, card = small
    publish(data, card, net, SHIPPED, database_url)
    with engine(database_url).begin() as db:
        db.execute(update(default_networks).where(default_networks.c.current).values(weights=b"PK garbage"))
    loaded = current_default(SHIPPED, database_url)
    assert loaded.net.hidden == NumpyNetwork.load(SHIPPED).hidden
    assert "do not match" in loaded.problem and "Using the previous default" in loaded.problem


def test_a_save_refuses_what_is_not_a_network_and_changes_nothing(database_url):
    with pytest.raises(ModelFileError):
        publish(b"PK\x03\x04 not a model", ModelCard(), None, SHIPPED, database_url)
    assert version(database_url) == 0 and earlier_defaults(database_url) == []


def test_the_command_line_lists_and_rolls_back_against_the_database(database_url, small, capsys):
    data, net, card = small
    publish(data, card, net, SHIPPED, database_url)
    assert main(["list", "--database", database_url]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 99.4" in out and "current:" in out
    assert main(["rollback", "--database", database_url]) == 0
    assert current_default(SHIPPED, database_url).net.hidden == NumpyNetwork.load(SHIPPED).hidden
    assert main(["rollback", "nonsense", "--database", database_url]) == 1
    assert "no earlier default" in capsys.readouterr().err


def test_a_stored_card_is_json_with_both_hashes(database_url, small):
    data, net, card = small
    publish(data, card, net, SHIPPED, database_url)
    with engine(database_url).connect() as db:
        stored = json.loads(db.execute(default_networks.select().where(default_networks.c.current)).first().card)
    assert stored["model_sha256"] and stored["weights_sha256"]
