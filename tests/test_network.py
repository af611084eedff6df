"""The Keras ANN: building, training with progress, saving atomically, loading safely."""

import json
import zipfile
from typing import NamedTuple

import keras
import numpy as np
import pytest

from model.config import TrainConfig
from model.progress import Progress
from model.reading.metrics import evaluate
from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard, card_path
from model.store.network_file import read_network_file
from model.training.ann import build_ann, fit_network, load_model, save_network, train
from model.training.speed import STEPS_PER_EXECUTION


def dense_sizes(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


@pytest.mark.parametrize("hidden", [(128, 64), (10,), (300, 200, 100, 50)])
def test_build_ann_has_the_layers_and_parameters_asked_for(hidden):
    model = build_ann(hidden)
    assert dense_sizes(model) == [*hidden, 10]
    sizes = [784, *hidden, 10]
    assert model.count_params() == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    assert model.layers[-1].activation is keras.activations.softmax
    assert all(
        layer.activation is keras.activations.relu
        for layer in model.layers[1:-1]
        if isinstance(layer, keras.layers.Dense)
    )
    assert model.input_shape == (None, 28, 28)


def test_dropout_follows_each_hidden_layer_when_asked():
    kinds = [type(layer).__name__ for layer in build_ann((32, 16), dropout=0.25).layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert "Dropout" not in [type(layer).__name__ for layer in build_ann((32, 16)).layers]


def test_train_uses_the_learning_rate_it_is_given(tiny_mnist):
    (x_train, y_train), _ = tiny_mnist
    results = {}
    for rate in (0.0, 0.005):
        keras.utils.set_random_seed(0)
        model = build_ann((8,))
        before = [w.copy() for w in model.get_weights()]
        train(model, x_train[:256], y_train[:256], epochs=1, batch_size=64, learning_rate=rate)
        results[rate] = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), before))
    assert results[0.0] == 0.0 and results[0.005] > 1e-3, results


def test_short_training_beats_chance_by_far(tiny_mnist):
    (x_train, y_train), (x_test, y_test) = tiny_mnist
    keras.utils.set_random_seed(0)
    model = build_ann((64,))
    history = train(model, x_train, y_train, epochs=1, batch_size=32)
    accuracy = evaluate(NumpyNetwork.from_keras(model).probabilities(x_test / 255.0), y_test).accuracy
    assert accuracy > 0.6, f"chance is 0.1; got {accuracy:.3f}"
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_progress_hook_sees_batches_and_every_epoch(tiny_mnist):
    (x_train, y_train), _ = tiny_mnist
    events: list[Progress] = []
    train(
        build_ann((16,)),
        x_train[:2000],
        y_train[:2000],
        epochs=2,
        batch_size=20,
        validation_split=0.1,
        on_progress=events.append,
    )
    batch_events = [e for e in events if not e.epoch_done]
    epoch_events = [e for e in events if e.epoch_done]
    # 1800 training images / 20 per batch = 90 batches, reported every
    # STEPS_PER_EXECUTION of them and after the last.
    reported = [*range(STEPS_PER_EXECUTION, 90, STEPS_PER_EXECUTION), 90]
    assert len(reported) >= 3
    assert [(e.epoch, e.batch) for e in batch_events] == [(epoch, b) for epoch in (1, 2) for b in reported]
    assert all(e.batches == 90 for e in events)
    assert [e.epoch for e in epoch_events] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epoch_events[-1].logs)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_should_stop_ends_training_early(tiny_mnist):
    (x_train, y_train), _ = tiny_mnist
    events = []
    history = train(
        build_ann((16,)),
        x_train,
        y_train,
        epochs=5,
        batch_size=10,
        on_progress=events.append,
        should_stop=lambda: len(events) >= 3,
    )
    assert len(history["loss"]) == 1 and len(events) < 10


def test_same_seed_same_network(tiny_mnist):
    config = TrainConfig(hidden=(32,), epochs=1, batch_size=64, seed=7)
    _, first = fit_network(config, tiny_mnist, {}, "cmd")
    _, second = fit_network(config, tiny_mnist, {}, "cmd")
    assert first.card.accuracy == second.card.accuracy
    for a, b in zip(first.net.weights(), second.net.weights()):
        np.testing.assert_array_equal(a, b)
    _, other = fit_network(TrainConfig(hidden=(32,), epochs=1, batch_size=64, seed=8), tiny_mnist, {}, "cmd")
    assert not np.array_equal(first.net.kernels[0], other.net.kernels[0])


def test_a_run_on_a_kept_compiled_network_trains_exactly_as_a_fresh_one(tiny_mnist, monkeypatch):
    from model.training import speed

    monkeypatch.setattr(speed, "_compiled", speed.OrderedDict())
    compiled = []
    real_compile = keras.Model.compile

    def counted_compile(self, *args, **kwargs):
        compiled.append(self)
        return real_compile(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "compile", counted_compile)
    # Different learning rates and lengths first, so that a kept network must take the new ones.
    warm = TrainConfig(hidden=(32,), epochs=2, batch_size=64, seed=3, learning_rate=0.01, dropout=0.2)
    fit_network(warm, tiny_mnist, {}, "cmd")
    config = TrainConfig(hidden=(32,), epochs=1, batch_size=64, seed=7, dropout=0.2)
    _, kept = fit_network(config, tiny_mnist, {}, "cmd")
    assert len(compiled) == 1, "the second run compiled again instead of reusing the kept network"
    monkeypatch.setattr(speed, "_compiled", speed.OrderedDict())
    _, fresh = fit_network(config, tiny_mnist, {}, "cmd")
    assert len(compiled) == 2
    for a, b in zip(kept.net.weights(), fresh.net.weights()):
        np.testing.assert_array_equal(a, b)


def test_a_process_keeps_only_a_few_compiled_networks(tiny_mnist, monkeypatch):
    from model.training import speed

    monkeypatch.setattr(speed, "_compiled", speed.OrderedDict())
    (x, y), _ = tiny_mnist
    for units in range(1, speed.MAX_COMPILED + 3):
        train(build_ann((units,)), x[:200], y[:200], epochs=1, batch_size=100)
    assert sum(len(twins) for twins in speed._compiled.values()) == speed.MAX_COMPILED
    kept_units = [json.loads(key)["layers"][2]["config"]["units"] for key in speed._compiled]
    assert kept_units == list(range(3, speed.MAX_COMPILED + 3)), "the most recently used are kept"


def test_the_twin_drops_as_kerass_dropout_does_and_the_trained_network_keeps_kerass_layer(tiny_mnist):
    """The compiled twin trains with `TrainingDropout` (fast under XLA); what a run returns has Keras's own."""
    from model.training.speed import TrainingDropout, _twin_of

    model = build_ann((64,), dropout=0.25)
    twin = _twin_of(model)
    layer = next(layer for layer in twin.layers if isinstance(layer, keras.layers.Dropout))
    assert isinstance(layer, TrainingDropout) and layer.rate == 0.25
    assert len(twin.variables) == len(model.variables), "the same variables, so weights copy both ways"
    ones = np.ones((200, 64), dtype=np.float32)
    dropped = keras.ops.convert_to_numpy(layer(ones, training=True))
    assert set(np.unique(dropped)) <= {0.0, np.float32(1 / 0.75)}, "kept units are scaled up, the rest zero"
    assert 0.22 < np.mean(dropped == 0) < 0.28, "a quarter of the units dropped"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ones, training=False)), ones)
    (x, y), _ = tiny_mnist
    train(model, x[:256], y[:256], epochs=1, batch_size=64)
    assert not any(isinstance(layer, TrainingDropout) for layer in model.layers), "saved networks stay plain Keras"


class Trained(NamedTuple):
    model: keras.Model
    net: NumpyNetwork
    card: ModelCard


@pytest.fixture(scope="module")
def trained(tiny_mnist):
    config = TrainConfig(hidden=(48, 24), epochs=1, batch_size=64, dropout=0.1)
    model, network = fit_network(config, tiny_mnist, {"source": "tiny", "sha256": None}, config.command())
    return Trained(model, network.net, network.card)


def test_save_then_load_gives_identical_predictions(trained, tiny_mnist, tmp_path):
    path = tmp_path / "net.keras"
    save_network(trained.model, path, trained.card)
    x = tiny_mnist[1][0][:200].astype(np.float32) / 255.0
    before = trained.model(x, training=False).numpy()
    np.testing.assert_array_equal(load_model(path)(x, training=False).numpy(), before)
    # The NumPy reader used by the app agrees with Keras.
    np.testing.assert_allclose(NumpyNetwork.load(path).probabilities(x), before, atol=1e-6)
    assert NumpyNetwork.load(path).hidden == (48, 24)


def test_card_is_written_beside_the_model(trained, tmp_path):
    path = tmp_path / "net.keras"
    save_network(trained.model, path, trained.card)
    card = json.loads(card_path(path).read_text())
    assert card["architecture"]["hidden"] == [48, 24]
    assert card["parameters"] == trained.model.count_params()
    assert card["test"]["accuracy"] == trained.card.accuracy
    from model.store.data import file_sha256

    assert card["model_sha256"] == file_sha256(path)


def test_saved_file_has_no_optimizer_state(trained, tmp_path):
    path = tmp_path / "net.keras"
    save_network(trained.model, path)
    with zipfile.ZipFile(path) as archive:
        import io

        import h5py

        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as h5:
            assert "optimizer" not in h5


def test_a_failed_save_leaves_the_old_model_intact(trained, tiny_mnist, tmp_path, monkeypatch):
    path = tmp_path / "net.keras"
    save_network(trained.model, path, trained.card)
    old_bytes, old_card = path.read_bytes(), card_path(path).read_text()

    def crash_mid_write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 half a model")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_network(build_ann((8,)), path, ModelCard(other={"other": "card"}))
    assert path.read_bytes() == old_bytes and card_path(path).read_text() == old_card
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.keras"], "no temporary files"
    NumpyNetwork.load(path)  # still a valid model


def test_loading_is_safe_and_refuses_foreign_models(tmp_path):
    conv = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    conv.save(tmp_path / "conv.keras")
    with pytest.raises(ModelFileError, match="not a Flatten"):
        NumpyNetwork.load(tmp_path / "conv.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable"):
        NumpyNetwork.load(tmp_path / "junk.keras")
    with pytest.raises(ModelFileError, match="No model file"):
        NumpyNetwork.load(tmp_path / "missing.keras")


def test_keras_loader_runs_no_code_from_the_file(tmp_path):
    lambda_model = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(10)]
    )
    lambda_model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(tmp_path / "lambda.keras")


def test_two_saves_at_the_same_moment_leave_a_valid_pair(tmp_path):
    import threading

    path = tmp_path / "net.keras"
    models = {hidden: build_ann((hidden,)) for hidden in (8, 16, 24, 32)}
    barrier = threading.Barrier(len(models))
    errors = []

    def save(hidden):
        try:
            barrier.wait()
            save_network(models[hidden], path, ModelCard(other={"hidden": hidden}))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(h,)) for h in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    saved = NumpyNetwork.load(path)
    card = json.loads(card_path(path).read_text())
    assert saved.hidden == (card["hidden"],), "the card describes the model beside it"
    from model.store.data import file_sha256

    assert card["model_sha256"] == file_sha256(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.keras"]
    read_network_file(path)  # the network and its card agree
