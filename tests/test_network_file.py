"""A network as a file (the shipped one, train.py's): written atomically, read back checked against its card."""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard, Scores, card_path
from model.store.network_file import SHIPPED, copy_network_file, read_network_file, write_network_file


@pytest.fixture
def copy(tmp_path):
    path = tmp_path / "net.keras"
    copy_network_file(SHIPPED, path)
    return path


@pytest.fixture(scope="module")
def small_keras():
    """The bytes of a tiny .keras file, with a card."""
    from model.training.ann import build_ann, keras_bytes

    return keras_bytes(build_ann((8,))), ModelCard(test=Scores(0.5, 1.0, 10), other={"name": "small"})


def test_the_shipped_pair_matches(copy):
    network = read_network_file(copy, "Default")
    assert network.name == "Default" and network.net.hidden == (800, 400)
    assert network.card.model_sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_a_written_network_reads_back_with_its_hash_on_the_card(tmp_path, small_keras):
    data, card = small_keras
    path = tmp_path / "out.keras"
    written = write_network_file(path, data, card)
    assert path.read_bytes() == data and written.net.hidden == (8,)
    read = read_network_file(path)
    assert read.card.model_sha256 == hashlib.sha256(data).hexdigest() and read.card.other["name"] == "small"
    assert not list(tmp_path.glob(".tmp-*")), "no temporary file left"


def test_a_network_whose_card_belongs_to_another_is_refused_in_a_sentence(copy, small_keras):
    data, card = small_keras
    old_card = card_path(copy).read_text()
    write_network_file(copy, data, card)
    card_path(copy).write_text(old_card)  # as if killed between the network and its card
    with pytest.raises(ModelFileError, match="do not match"):
        read_network_file(copy)


@pytest.mark.parametrize("card_text", ["{not json", "[1, 2]", '{"test": {"accuracy": "high"}, "model_sha256": 5}'])
def test_a_damaged_card_never_crashes_a_load(copy, card_text):
    card_path(copy).write_text(card_text)
    if card_text.startswith('{"test"'):
        network = read_network_file(copy)  # wrong shapes are dropped, the network still loads
        assert network.card.test is None and network.card.model_sha256 is None
    else:
        with pytest.raises(ModelFileError, match="damaged"):
            read_network_file(copy)


def test_a_network_without_a_card_reads_and_a_missing_one_is_a_sentence(tmp_path, copy):
    card_path(copy).unlink()
    assert read_network_file(copy).card == ModelCard()
    with pytest.raises(ModelFileError, match="missing"):
        read_network_file(tmp_path / "nothing.keras")


def test_a_valid_json_that_is_not_a_keras_config_is_refused_in_a_sentence():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": "oops"}}))
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ModelFileError):
        NumpyNetwork.from_keras_bytes(buffer.getvalue(), "x")


def test_a_write_refuses_bytes_that_are_not_a_network(copy):
    before = copy.read_bytes()
    with pytest.raises(ModelFileError):
        write_network_file(copy, b"PK\x03\x04 not a model", ModelCard())
    assert copy.read_bytes() == before


def test_there_is_no_history_folder_any_more(tmp_path, small_keras):
    """One home for saved defaults, the database: a file is only ever the network it was asked to be."""
    data, card = small_keras
    path = tmp_path / "net.keras"
    write_network_file(path, data, card)
    write_network_file(path, data, card)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.keras"]


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


def test_the_shipped_network_the_database_and_the_old_samples_folder_are_where_the_readme_says():
    from model.store.db import DEFAULT_FILE
    from model.store.folder_import import DEFAULT_FOLDER

    root = Path(__file__).resolve().parent.parent
    assert SHIPPED == root / "model" / "mnist_ann.keras" and SHIPPED.is_file()
    assert DEFAULT_FILE == root / "data" / "samples.sqlite3"
    assert DEFAULT_FOLDER == root / "data" / "my_digits"


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
