"""A network saved as files (train.py's, the shipped one): a history, a set checked by hash, restore."""

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard, Scores, card_path
from model.store.defaults import (
    KEEP,
    copy_default,
    history,
    load_default,
    restore,
    save_default,
    sweep,
    weights_path,
)

SHIPPED = Path(__file__).resolve().parent.parent / "model" / "mnist_ann.keras"


@pytest.fixture
def default(tmp_path):
    path = tmp_path / "net.keras"
    copy_default(SHIPPED, path)
    return path


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory):
    """The bytes of a tiny .keras file, with a card."""
    from model.training.keras_ann import build_ann, keras_bytes

    return keras_bytes(build_ann((8,))), ModelCard(test=Scores(0.5, 1.0, 10), other={"name": "small"})


def test_the_shipped_pair_matches(default):
    loaded = load_default(default)
    assert loaded.problem is None and loaded.name == "current"
    assert loaded.card.model_sha256 == hashlib.sha256(default.read_bytes()).hexdigest()


def test_a_new_network_with_the_old_card_falls_back_to_the_previous_default(default, small_keras):
    data, card = small_keras
    shipped_hidden = NumpyNetwork.load(default).hidden
    save_default(default, data, card)
    old_card = card_path(history(default)[0].path).read_text()
    card_path(default).write_text(old_card)  # as if killed between the network and its card
    loaded = load_default(default)
    assert "do not match" in loaded.problem and "previous default" in loaded.problem
    assert loaded.net.hidden == shipped_hidden and loaded.name == history(default)[0].name


@pytest.mark.parametrize("card_text", ["{not json", "[1, 2]", '{"test": {"accuracy": "high"}, "model_sha256": 5}'])
def test_a_damaged_card_never_crashes_a_load(default, card_text):
    card_path(default).write_text(card_text)
    if card_text.startswith('{"test"'):
        loaded = load_default(default)  # wrong shapes are dropped, the network still loads
        assert loaded.card.test is None and loaded.problem is None
    else:
        with pytest.raises(ModelFileError, match="damaged"):
            load_default(default)  # no history to fall back to: one sentence


def test_a_valid_json_that_is_not_a_keras_config_is_refused_in_a_sentence(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": "oops"}}))
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ModelFileError):
        NumpyNetwork.from_keras_bytes(buffer.getvalue(), "x")


def test_history_keeps_the_last_few_and_restore_rolls_back(default, small_keras):
    data, card = small_keras
    shipped = default.read_bytes()
    for i in range(KEEP + 2):
        save_default(default, data if i % 2 == 0 else shipped, replace(card, other={"name": f"save {i}"}))
    assert len(history(default)) <= KEEP
    newest = history(default)[0]
    wanted = newest.path.read_bytes()
    current = default.read_bytes()
    restore(default, newest.name)
    assert default.read_bytes() == wanted and load_default(default).problem is None
    assert any(e.path.read_bytes() == current for e in history(default)), "the replaced default is kept"
    with pytest.raises(ModelFileError, match="no earlier default"):
        restore(default, "19990101T000000-deadbeef")


def test_a_save_refuses_bytes_that_are_not_a_network(default):
    before = default.read_bytes()
    with pytest.raises(ModelFileError):
        save_default(default, b"PK\x03\x04 not a model", ModelCard())
    assert default.read_bytes() == before and history(default) == []


def test_sweep_removes_what_killed_saves_left(default, small_keras):
    save_default(default, *small_keras)
    (default.parent / ".tmp-net.keras.abcd1234.keras").write_bytes(b"half")
    (history(default)[0].path.parent / ".tmp-x.json.abcd1234.json").write_bytes(b"half")
    assert len(sweep(default)) == 2
    assert not list(default.parent.rglob(".tmp-*"))


def test_a_card_read_from_a_file_drops_badly_shaped_fields():
    card = ModelCard.from_dict(
        {
            "test": {"accuracy": 2.0},
            "history": {"loss": ["x"]},
            "command": "python train.py",
            "fine_tune": {"trained_on": "many"},
            "hyperparameters": {"augment": "yes"},
        }
    )
    assert card == ModelCard(command="python train.py")
    assert ModelCard.from_dict([1, 2]) is None


def test_a_card_survives_a_round_trip_and_an_old_card_still_reads():
    old = json.loads((Path(__file__).resolve().parent / "data" / "before_styles.json").read_text())
    card = ModelCard.from_dict(old)
    assert card.hidden == (800, 400) and card.augmented and card.accuracy == old["test"]["accuracy"]
    assert card.layers == "784 → 800 → 400 → 10" and card.dropout == 0.1
    assert card.to_dict() == old, "nothing is lost or changed on the way through"


def test_the_shipped_default_the_database_and_the_old_samples_folder_are_where_the_readme_says():
    from model.store.db import DEFAULT_FILE
    from model.store.defaults import SHIPPED
    from model.store.folder_import import DEFAULT_FOLDER

    root = Path(__file__).resolve().parent.parent
    assert SHIPPED == root / "model" / "mnist_ann.keras" and SHIPPED.is_file()
    assert DEFAULT_FILE == root / "data" / "samples.sqlite3"
    assert DEFAULT_FOLDER == root / "data" / "my_digits"


def test_the_page_reads_the_weights_file_and_checks_it_against_the_card(default, small_keras):
    data, card = small_keras
    save_default(default, data, card)
    weights = weights_path(default)
    assert weights.is_file() and ModelCard.from_dict(json.loads(card_path(default).read_text())).weights_sha256
    assert load_default(default).net.hidden == (8,)
    weights.write_bytes(weights.read_bytes()[:-10])  # damaged after the save
    loaded = load_default(default)
    assert loaded.name != "current" and "do not match" in loaded.problem, "the previous default, with a sentence"


def test_a_default_saved_before_the_weights_file_still_reads(default):
    weights_path(default).unlink(missing_ok=True)
    card = json.loads(card_path(default).read_text())
    card.pop("weights_sha256", None)
    card_path(default).write_text(json.dumps(card))
    loaded = load_default(default)
    assert loaded.problem is None and loaded.net.hidden == NumpyNetwork.load(default).hidden


def test_weights_round_trip_and_junk_is_refused():
    net = NumpyNetwork.load(SHIPPED)
    again = NumpyNetwork.from_npz_bytes(net.to_npz_bytes())
    assert all((a == b).all() for a, b in zip(net.weights(), again.weights()))
    for junk in (b"not a zip", b"PK\x03\x04 half a zip"):
        with pytest.raises(ModelFileError):
            NumpyNetwork.from_npz_bytes(junk)
    buffer = io.BytesIO()
    np.savez(buffer, kernel_0=np.zeros((784, 10), np.float64), bias_0=np.zeros(10))
    with pytest.raises(ModelFileError, match="float32"):
        NumpyNetwork.from_npz_bytes(buffer.getvalue())


def test_a_fine_tuned_card_does_not_repeat_what_the_base_was_said_to_misread():
    from model.reading.metrics import evaluate
    from model.store.card import fine_tuned_card

    base = ModelCard(hidden=(8,), command="python train.py", model_sha256="abc", notes={"still_misreads": "9s"})
    test = evaluate(np.eye(10)[[0, 1, 2]], np.array([0, 1, 2]))
    tuned = fine_tuned_card(base, test, {"trained_on": 3}, 1.0)
    assert tuned.notes == {} and tuned.command is None and tuned.model_sha256 is None
    assert tuned.hidden == (8,) and tuned.fine_tune["trained_on"] == 3 and tuned.accuracy == 1.0
