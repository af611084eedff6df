"""train.py: a real run end to end, and every way a bad request is refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each starts train.py in a new process

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env_mnist=None, cwd=ROOT):
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(Path.home())}
    env["SAMPLES_DATABASE_URL"] = os.environ["SAMPLES_DATABASE_URL"]  # the tests' own, never the app's
    if env_mnist:
        env["MNIST_PATH"] = str(env_mnist)
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hidden", "0"], "1 to 4096 units"),
        (["--hidden", "100000"], "1 to 4096 units"),
        (["--hidden", *["8"] * 9], "1 to 8 hidden layers"),
        (["--epochs", "0"], "Epochs must be 1 to 200"),
        (["--epochs", "1000"], "Epochs must be 1 to 200"),
        (["--dropout", "1.5"], "Dropout must be 0 to 0.8"),
        (["--learning-rate", "-1"], "Learning rate"),
        (["--batch-size", "0"], "Batch size"),
        (["--epochs", "ten"], "invalid int value"),
        (["--out", "model.h5"], "must end in .keras"),
        (["--out", "/no/such/folder/m.keras"], "does not exist"),
        (["--extra-real", "/no/such/real_writers"], "make it with `python -m bench.real_writers prepare`"),
        (["--teacher", "/no/such/teacher.keras"], "is not a .keras file"),
        (["--teacher", __file__], "is not a .keras file"),
        (["--extra-real", "/no/such/real_writers", "--real-renderings", "0"], "--real-renderings must be 1 to 20"),
        (["--teacher", "model/mnist_ann.keras", "--temperature", "0.5"], "temperature must be 1 to 20"),
        (["--teacher", "model/mnist_ann.keras", "--teacher-share", "0"], "share of the loss must be above 0"),
    ],
)
def test_bad_arguments_end_in_one_line_and_write_nothing(tmp_path, args, message):
    if "--out" not in args:
        args = [*args, "--out", tmp_path / "m.keras"]
    result = run(*args, "--data", tmp_path / "never-read.npz")
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_path_is_refused_before_training(tmp_path):
    # /proc refuses new files even to root, unlike a chmod-ed folder.
    result = run("--out", "/proc/net.keras", "--data", tmp_path / "never-read.npz")
    assert result.returncode == 2
    assert "cannot save to /proc/net.keras: cannot write in /proc" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_data_file(tmp_path):
    result = run("--data", tmp_path / "missing.npz", "--out", tmp_path / "m.keras")
    assert result.returncode == 1
    assert "No MNIST file" in result.stderr and "MNIST_PATH" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_full_run_writes_model_and_card(tiny_mnist_path, tmp_path):
    out = tmp_path / "net.keras"
    result = run(
        "--hidden",
        "32",
        "16",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--seed",
        "3",
        "--out",
        out,
        env_mnist=tiny_mnist_path,
    )
    assert result.returncode == 0, result.stderr
    assert "epoch   1/2" in result.stdout and "epoch   2/2" in result.stdout
    assert "Test accuracy" in result.stdout
    card = json.loads(out.with_suffix(".json").read_text())
    for key in (
        "architecture",
        "parameters",
        "hyperparameters",
        "seed",
        "test",
        "training_seconds",
        "data",
        "versions",
        "created",
        "command",
        "model_sha256",
        "history",
    ):
        assert key in card
    assert card["hyperparameters"]["hidden"] == [32, 16] and card["seed"] == 3
    assert card["data"]["sha256"] and card["data"]["source"] == str(tiny_mnist_path)
    assert set(card["versions"]) >= {"tensorflow", "keras", "numpy", "python"}
    assert len(card["test"]["confusion"]) == 10 and len(card["test"]["per_class_accuracy"]) == 10
    assert card["test"]["accuracy"] > 0.5

    # The card's command repeats the run exactly.
    again = tmp_path / "again.keras"
    command = card["command"].split()[2:]  # drop "python train.py"
    command[command.index("--out") + 1] = str(again)
    result = run(*command)
    assert result.returncode == 0, result.stderr
    assert json.loads(again.with_suffix(".json").read_text())["test"]["accuracy"] == card["test"]["accuracy"]


def test_extra_samples_are_trained_on_and_scored(tiny_mnist_path, tmp_path):
    import numpy as np

    from model.store.collection import new_token, visitor_store

    token = new_token()
    store = visitor_store(token)
    for i in range(30):
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 12 + i % 3 : 15 + i % 3] = 255  # a "1" of one's own
        image[0, i % 28] = 1 + i // 28  # thirty different samples
        store.add(image, 1)
    out = tmp_path / "net.keras"
    result = run("--hidden", "16", "--epochs", "1", "--extra", token, "--out", out, env_mnist=tiny_mnist_path)
    assert result.returncode == 0, result.stderr
    assert "Adding" in result.stdout
    card = json.loads(out.with_suffix(".json").read_text())
    extra = card["extra_samples"]
    assert extra["trained_on"] + extra["held_out"] == 30 and extra["trained_on"] > 0
    assert "--extra" in card["command"]
    assert token not in out.with_suffix(".json").read_text(), "the card, which every visitor reads, never names a link"


def test_extra_must_name_a_collection_with_samples(tmp_path):
    from model.store.collection import new_token

    for name, message in [("data/my_digits", "names no collection"), (new_token(), "holds no samples")]:
        result = run("--extra", name, "--out", tmp_path / "m.keras", "--data", tmp_path / "x.npz")
        assert result.returncode == 2 and message in result.stderr


def test_publish_makes_the_network_the_apps_default_and_without_it_the_default_is_untouched(
    tiny_mnist_path, tmp_path, monkeypatch
):
    from model.store.defaults import current_default, version

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    monkeypatch.setenv("SAMPLES_DATABASE_URL", url)
    result = run("--hidden", "12", "--epochs", "1", "--out", tmp_path / "a.keras", env_mnist=tiny_mnist_path)
    assert result.returncode == 0, result.stderr
    assert version(url) == 0, "writing a file does not change what visitors get"
    result = run(
        "--hidden", "12", "--epochs", "1", "--out", tmp_path / "b.keras", "--publish", env_mnist=tiny_mnist_path
    )
    assert result.returncode == 0, result.stderr
    assert "Published it as the app's default" in result.stdout
    network, problem = current_default(url)
    assert problem is None and network.net.hidden == (12,) and version(url) != 0


def test_a_run_can_train_on_from_another_network_and_its_card_says_which(tiny_mnist_path, tmp_path):
    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    result = run("--hidden", "12", "--epochs", "1", "--out", first, env_mnist=tiny_mnist_path)
    assert result.returncode == 0, result.stderr
    result = run("--hidden", "12", "--epochs", "1", "--start", first, "--out", second, env_mnist=tiny_mnist_path)
    assert result.returncode == 0, result.stderr
    base = json.loads(first.with_suffix(".json").read_text())
    card = json.loads(second.with_suffix(".json").read_text())
    assert card["data"]["start"] == {"sha256": base["model_sha256"], "command": base["command"]}
    assert "--start" in card["command"].split() and base["command"] in card["notes"]["trained_on"]
    assert card["test"]["accuracy"] != base["test"]["accuracy"] or card["model_sha256"] != base["model_sha256"]


def test_extra_shared_retrains_the_shipped_network_on_what_visitors_shared(tiny_mnist_path, tmp_path, monkeypatch):
    import numpy as np

    from model.store.collection import new_token, visitor_store
    from model.store.sharing import share

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    monkeypatch.setenv("SAMPLES_DATABASE_URL", url)
    result = run("--extra", "shared", "--out", tmp_path / "none.keras", env_mnist=tiny_mnist_path)
    assert result.returncode == 2 and "nobody shares" in result.stderr
    data = np.load(tiny_mnist_path)
    for contributor in range(2):  # numbers 1 (trained on) and 2 (held out)
        store = visitor_store(new_token(), url)
        for i in range(contributor * 30, contributor * 30 + 30):
            store.add(data["x_train"][i], int(data["y_train"][i]))
        share(store)
    out = tmp_path / "class.keras"
    result = run("--extra", "shared", "--out", out, env_mnist=tiny_mnist_path)
    assert result.returncode == 0, result.stderr
    assert "held-out contributors" in result.stdout and "MNIST test" not in result.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    report = card["shared"]
    assert report["contributors"] == 1 and report["held_out_contributors"] == 1 and report["trained_on"] <= 30
    assert card["command"].split()[2:4] == ["--extra", "shared"]
