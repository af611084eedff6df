"""The real-writer judge and training data (bench/real_writers.py, model/training/real.py), on made-up sources.

No real handwriting is stored in this repository, so these tests write tiny
stand-ins in each source's own layout (DigiLeTs's raw text files, ARDIS's
CSVs, HwD-1000's PNGs) and check what is read from them, how the writers
are split, and that the judge's writers can never reach training.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import real_writers
from bench.drawn_digits import CANVAS
from model.training import real

# Two complete writers (002 is a judge writer: the first of the complete ones; 004 is not) and one corrupted.
JUDGE_ID, TRAIN_ID, CORRUPTED_ID = 2, 4, 9
INFO = """- Scribble
    - 003
- Missing
    - 009 (scribble)
        - 3 1 (is 5)
        - M 0 (missing)
"""


def digit_line(digit: int, instance: int) -> str:
    """One instance as DigiLeTs writes it: x y pressure pen_down time per point, y pointing up."""
    points = [(0.3 + 0.04 * instance, 0.8, 0.5, 1, 0.0)]  # pen down
    points += [(0.3 + 0.04 * instance + 0.02 * k, 0.8 - 0.1 * k, 0.5, 0, 0.02 * k) for k in range(1, 7)]
    points += [(0.5, 0.5, 0.0, 0, 0.2)]  # the pen's button in the air: dropped
    points += [(0.6, 0.7, 0.4, 1, 0.3), (0.6 + 0.01 * digit, 0.3, 0.4, 0, 0.32)]  # a second stroke
    points += [(1.4, -0.8, 0.3, 0, 0.4)]  # outside the writing square: dropped
    return " ".join(f"{v:g}" for point in points for v in point)


def write_participant(path, symbols=62):
    lines = []
    for symbol in range(symbols):
        for instance in range(5):
            lines.append(digit_line(symbol % 10, instance))
            lines.append(" ".join("1" if k == symbol else "0" for k in range(62)))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("realdigits")
    raw = root / "digilets" / "data" / "raw"
    for folder, writer in (("complete", JUDGE_ID), ("complete", TRAIN_ID), ("corrupted", CORRUPTED_ID)):
        (raw / folder).mkdir(parents=True, exist_ok=True)
        write_participant(raw / folder / f"{writer:03d}-f-20-right_2019-06-05-12-21-29")
        (raw / folder / f"{writer:03d}-f-20-right_2019-06-05-12-21-29_info").write_text("0\n")
    (raw / "corrupted" / "info").write_text(INFO)
    ardis = root / "ardis"
    ardis.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("test", 10)):
        images = np.zeros((n, 28, 28))
        images[:, 6:22, 12:16] = 255  # a bar, white on black
        np.savetxt(ardis / f"ARDIS_{split}_2828.csv", images.reshape(n, -1), fmt="%.10f")
        np.savetxt(ardis / f"ARDIS_{split}_labels.csv", np.eye(10)[rng.integers(0, 10, n)], fmt="%d")
    hwd = root / "hwd1000"
    (hwd / "img").mkdir(parents=True)
    rows = ["image,label"]
    for k in range(10):
        image = np.full((28, 28), 255, np.uint8)
        image[4:24, 13:15] = 0  # black on white
        Image.fromarray(image).save(hwd / "img" / f"{k}-001.png")
        rows.append(f"img/{k}-001.png,{k}")
    (hwd / "dataset.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    real_writers.prepare(sources, out, accept_other=True)
    return out


def test_copies_that_differ_from_the_expected_ones_are_refused(sources, tmp_path):
    with pytest.raises(real_writers.RealWritersUnavailable, match="--accept-other"):
        real_writers.prepare(sources, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_source_is_a_sentence(tmp_path):
    with pytest.raises(real_writers.RealWritersUnavailable, match="is missing: fetch the sources"):
        real_writers.prepare(tmp_path, tmp_path / "out")


def test_the_judge_holds_the_judge_writers_only(prepared):
    assert JUDGE_ID in real_writers.JUDGE_WRITERS and TRAIN_ID not in real_writers.JUDGE_WRITERS
    judge = real_writers.load_judge(prepared)
    assert set(judge.digits.writer.tolist()) == {JUDGE_ID}
    assert len(judge.digits) == 50 and np.bincount(judge.digits.label).tolist() == [5] * 10
    assert judge.meta["role"] == "judge" and judge.writers == 1
    assert len(judge.ardis_y) == 10 and judge.ardis_x.shape == (10, 28, 28)


def test_strokes_are_read_as_the_pen_wrote_them(prepared):
    judge = real_writers.load_judge(prepared)
    strokes = judge.digits.strokes(0)
    assert [len(s) for s in strokes] == [7, 2], "a new stroke where the pen went down; hover points dropped"
    points = np.concatenate(strokes)
    assert (points >= 0).all() and (points <= 1).all(), "points outside the writing square dropped"
    assert strokes[0][0, 1] == pytest.approx(0.2) and strokes[0][-1, 1] > 0.7, "y flipped to point down"


def test_training_data_leaves_out_the_judge_and_the_listed_bad_instances(prepared):
    data = real.load_real(prepared)
    assert set(data.writer.tolist()) == {TRAIN_ID, CORRUPTED_ID}
    assert len(data.label) == 99, "2 writers × 50 digits, less writer 009's second 3 (listed as a 5)"
    assert np.bincount(data.label).tolist() == [10, 10, 10, 9, 10, 10, 10, 10, 10, 10]
    assert data.meta["role"] == "train" and data.meta["digilets_excluded"] == 1
    assert data.ardis_x.shape == (20, 28, 28) and data.hwd_x.shape == (10, 28, 28)
    assert data.hwd_x[:, 14, 14].min() > 128 and data.hwd_x[:, 0, 0].max() == 0, "HwD's black on white made MNIST's"


def test_training_refuses_the_judge_file(prepared):
    with pytest.raises(real.RealDataError, match="only the training writers' file"):
        real.load_real(prepared / "judge.npz")
    assert "does not exist" in real.check(prepared / "nothing.npz")
    assert real.check(prepared) is None


def test_real_training_digits_are_drawn_reproducibly(prepared):
    x, y, info = real.real_training_digits(prepared, renderings=2, seed=3)
    again, _, _ = real.real_training_digits(prepared, renderings=2, seed=3)
    other, _, _ = real.real_training_digits(prepared, renderings=2, seed=4)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, other)
    assert x.shape == (99 * 2 + 20 + 10, 28, 28) and x.dtype == np.uint8 and len(y) == len(x)
    assert info["digilets_digits"] == 99 and info["renderings"] == 2 and info["ardis_train"] == 20
    assert info["sha256"] == real.load_real(prepared).sha256 and set(info["sources"]) == set(real.PARTS)
    only_hwd, labels, info = real.real_training_digits(prepared, sources=("hwd",))
    assert len(only_hwd) == 10 and list(info["sources"]) == ["HwD-1000"]
    assert "HwD-1000" in real.in_words(info) and "DigiLeTs" not in real.in_words(info)
    with pytest.raises(real.RealDataError):
        real.real_training_digits(prepared, renderings=0)
    with pytest.raises(real.RealDataError):
        real.real_training_digits(prepared, sources=("usps",))


def test_the_same_data_prepared_twice_has_the_same_sha256(sources, prepared, tmp_path):
    real_writers.prepare(sources, tmp_path, accept_other=True)
    assert real.load_real(tmp_path).sha256 == real.load_real(prepared).sha256
    assert real_writers.load_judge(tmp_path).sha256 == real_writers.load_judge(prepared).sha256


def test_judge_drawings_are_canvas_drawings_that_depend_on_seed_and_index(prepared):
    judge = real_writers.load_judge(prepared)
    first = list(real_writers.judge_drawings(judge.digits, seed=5))
    again = list(real_writers.judge_drawings(judge.digits, seed=5))
    for (a, label, writer), (b, label_b, _) in zip(first[:5], again[:5]):
        np.testing.assert_array_equal(a, b)
        assert label == label_b and writer == JUDGE_ID
        assert a.shape == (CANVAS, CANVAS, 4) and (a[:, :, 3] == 0).mean() > 0.5
    assert not np.array_equal(first[0][0], first[1][0])
    inputs, labels, writers = real_writers.judge_inputs(judge.digits, seed=5)
    assert inputs.shape == (50, 28, 28) and labels.tolist() == judge.digits.label.tolist()


def test_a_missing_judge_says_how_to_make_it(tmp_path):
    with pytest.raises(real_writers.RealWritersUnavailable, match="python -m bench.real_writers prepare"):
        real_writers.load_judge(tmp_path)


def test_the_info_files_exclusions_are_read():
    path_text = INFO + "    - 047 (scribble, something weird happened here)\n        - 2 4 (missing)\n"

    class Info:
        def read_text(self):
            return path_text

    assert real_writers.digilets_exclusions(Info()) == {(9, 3, 1), (47, 2, 4)}


def test_the_split_is_every_other_complete_writer():
    assert len(real_writers.COMPLETE_WRITERS) == 77 and len(real_writers.JUDGE_WRITERS) == 39
    assert real_writers.JUDGE_WRITERS[:3] == (2, 5, 8)
    meta = json.dumps(real_writers.SOURCES)
    assert "MIT" in meta and "no redistribution" in meta


def test_score_and_prepare_from_the_command_line(sources, prepared, tmp_path, capsys):
    shipped = str(Path(__file__).resolve().parent.parent / "model" / "mnist_ann.keras")
    assert real_writers.main(["score", "--model", shipped, "--prepared", str(prepared)]) == 0
    line = capsys.readouterr().out
    assert f"{shipped}: real writers" in line and "of 50); per digit 0:" in line and "ARDIS test" in line
    assert real_writers.main(["score", "--prepared", str(tmp_path)]) == 1
    assert "run `python -m bench.real_writers prepare`" in capsys.readouterr().err
    out = tmp_path / "again"
    assert real_writers.main(["prepare", "--source", str(sources), "--out", str(out), "--accept-other"]) == 0
    assert "50 DigiLeTs digits by 1 writers" in capsys.readouterr().out
    assert real_writers.main(["prepare", "--source", str(sources), "--out", str(tmp_path / "refused")]) == 1
    assert "--accept-other" in capsys.readouterr().err and not (tmp_path / "refused").exists()


def test_train_py_learns_real_writers_from_a_teacher_and_the_card_says_so(prepared, tiny_mnist_path, tmp_path):
    """train.py --extra-real --teacher end to end, on the tiny MNIST and the made-up writers: one short epoch."""
    import keras

    from model.training.cnn import build_cnn
    from model.training.keras_ann import keras_bytes

    root = Path(__file__).resolve().parent.parent
    keras.utils.set_random_seed(0)
    teacher = tmp_path / "teacher.keras"
    teacher.write_bytes(keras_bytes(build_cnn(widths=(4, 4, 4, 4))))
    out = tmp_path / "net.keras"
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(Path.home())}
    env["MNIST_PATH"] = str(tiny_mnist_path)
    args = ["--hidden", "16", "--epochs", "1", "--extra-real", str(prepared), "--real-renderings", "2"]
    args += ["--real-sources", "digilets", "hwd", "--teacher", str(teacher), "--temperature", "3", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "train.py", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "Adding 208 real writers' digits" in result.stdout, "99 DigiLeTs digits drawn twice, and 10 of HwD-1000"
    card = json.loads(out.with_suffix(".json").read_text())
    real_info = card["data"]["extra_real"]
    assert set(real_info["sources"]) == {"DigiLeTs", "HwD-1000"} and real_info["images"] == 208
    assert all(s["licence"] and s["sha256"] for s in real_info["sources"].values())
    assert card["data"]["teacher"]["temperature"] == 3.0 and card["data"]["teacher"]["alpha"] == 0.7
    assert "DigiLeTs" in card["notes"]["trained_on"] and "distilled from" in card["notes"]["trained_on"]
    words = card["command"].split()
    assert {"--extra-real", "--real-sources", "--teacher", "--temperature", "--teacher-share"} <= set(words)
