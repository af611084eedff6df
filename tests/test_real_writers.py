"""The real-writer judges and training data (bench/real_writers.py, bench/unipen.py, model/training/extras/real.py),
on made-up sources.

No real handwriting is stored in this repository, so these tests write tiny
stand-ins in each source's own layout (DigiLeTs's raw text files, ARDIS's
CSVs, HwD-1000's PNGs, UNIPEN's writer and data files) and check what is
read from them, how the writers are split, and that the judges' writers can
never reach training.
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
from model.training.extras import real

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
    write_unipen(root / "unipen")
    return root


# UNIPEN writers: names whose sha256 puts them in the judge's fifth, and not (bench.real_writers.unipen_judge).
UNIPEN_JUDGE, UNIPEN_TRAIN = "aga/judge-4", "aga/train-0"


def unipen_blocks(digits: int, with_pen_up_points: bool = False) -> str:
    """A UNIPEN data file: per digit a stick (one pen-down block) and, for the second half, a bar (another);
    y points up. With `with_pen_up_points`, the pen's path in the air is recorded between them (as `pri` does)."""
    lines = [".COORD X Y"]
    for d in range(digits):
        lines += [".PEN_DOWN", *(f"{100 + d} {1000 - 40 * k}" for k in range(8)), ".PEN_UP"]
        if with_pen_up_points:
            lines += ["150 900", "160 950"]
        lines += [".PEN_DOWN", f"{80 + d} 900", f"{130 + d} 900", ".PEN_UP"]
    return "\n".join(lines) + "\n"


def write_unipen(root: Path) -> None:
    for site, name, labels in (
        ("aga", UNIPEN_JUDGE.split("/")[1], range(10)),
        ("aga", UNIPEN_TRAIN.split("/")[1], range(10)),
        ("pri", "p1", range(4)),
        ("tos", "t1", range(3)),
    ):
        (root / "data" / "1a" / site).mkdir(parents=True, exist_ok=True)
        (root / "include" / site / "data").mkdir(parents=True, exist_ok=True)
        pen_up = site == "pri"
        (root / "include" / site / "data" / f"{name}.dat").write_text(unipen_blocks(len(labels), pen_up))
        step = 4 if pen_up else 2  # blocks a digit takes: down, up (with points), down, up; or down, down
        segments = [
            f'.SEGMENT CHARACTER {step * d}-{step * d + step - 1 if pen_up else 2 * d + 1} ? "{d}"' for d in labels
        ]
        segments.append('.SEGMENT CHARACTER 999 ? "7"')  # names a block that is not there: left out, counted
        segments.append('.SEGMENT CHARACTER 0 ? "A"')  # a letter: not a digit
        text = [".VERSION 1.0", f".INCLUDE {site}/{name}.doc", f".INCLUDE {site}/data/{name}.dat", *segments]
        (root / "data" / "1a" / site / f"{name}.dat").write_text("\n".join(text) + "\n")
    (root / "LICENSE").write_text("Attribution 4.0 International\n")


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
    names = judge.meta["unipen_names"]
    assert {names[w] for w in judge.unipen.writer.tolist()} == {UNIPEN_JUDGE}
    assert judge.unipen.label.tolist() == list(range(10))


def test_unipens_judge_is_a_fixed_fifth_of_its_writers():
    assert real_writers.unipen_judge(UNIPEN_JUDGE) and not real_writers.unipen_judge(UNIPEN_TRAIN)
    chosen = [real_writers.unipen_judge(f"site/writer{i}") for i in range(1000)]
    assert 0.15 < np.mean(chosen) < 0.25


def test_unipen_strokes_are_the_pen_down_blocks_with_y_pointing_down(prepared):
    data = real.load_real(prepared).pens["unipen"]
    names = data_names(prepared)
    first = [i for i in range(len(data)) if names[data.writer[i]] == UNIPEN_TRAIN][0]
    stick, bar = data.strokes(first)
    assert len(stick) == 8 and len(bar) == 2, "each pen-down block is a stroke"
    assert stick[0, 1] < stick[-1, 1], "written downwards from the top: y was flipped to point down"
    assert bar[0, 1] == pytest.approx(-900)


def data_names(prepared):
    return json.loads(str(np.load(prepared / "train.npz")["meta"]))["unipen_names"]


def test_unipen_sites_are_read_by_their_own_numbering_and_the_skipped_ones_left_out(prepared):
    data = real.load_real(prepared)
    names = data_names(prepared)
    pens = data.pens["unipen"]
    by_writer = {name: pens.label[pens.writer == k].tolist() for k, name in enumerate(names)}
    assert by_writer["pri/p1"] == [0, 1, 2, 3], "pri counts its pen-up blocks too"
    assert [len(pens.strokes(i)) for i in np.flatnonzero(pens.writer == names.index("pri/p1"))] == [2] * 4
    assert "tos/t1" not in names, "tos is skipped"
    assert data.meta["unipen_unreadable"] == 3, "a segment naming a block that is not there, per writer read"


def test_strokes_are_read_as_the_pen_wrote_them(prepared):
    judge = real_writers.load_judge(prepared)
    strokes = judge.digits.strokes(0)
    assert [len(s) for s in strokes] == [7, 2], "a new stroke where the pen went down; hover points dropped"
    points = np.concatenate(strokes)
    assert (points >= 0).all() and (points <= 1).all(), "points outside the writing square dropped"
    assert strokes[0][0, 1] == pytest.approx(0.2) and strokes[0][-1, 1] > 0.7, "y flipped to point down"


def test_training_data_leaves_out_the_judge_and_the_listed_bad_instances(prepared):
    data = real.load_real(prepared)
    digilets = data.pens["digilets"]
    assert set(digilets.writer.tolist()) == {TRAIN_ID, CORRUPTED_ID}
    assert len(digilets.label) == 99, "2 writers × 50 digits, less writer 009's second 3 (listed as a 5)"
    assert np.bincount(digilets.label).tolist() == [10, 10, 10, 9, 10, 10, 10, 10, 10, 10]
    assert UNIPEN_JUDGE not in {data_names(prepared)[w] for w in data.pens["unipen"].writer.tolist()}
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
    unipen = info["unipen_digits"]
    assert unipen == 14, "the training writer's 10 and pri's 4"
    assert x.shape == ((99 + unipen) * 2 + 20 + 10, 28, 28) and x.dtype == np.uint8 and len(y) == len(x)
    assert info["digilets_digits"] == 99 and info["renderings"] == 2 and info["ardis_train"] == 20
    assert info["sha256"] == real.load_real(prepared).sha256 and set(info["sources"]) == set(real.PARTS)
    assert info["shippable"] is False, "DigiLeTs and ARDIS may not teach a shipped network"
    only_hwd, labels, info = real.real_training_digits(prepared, sources=("hwd",))
    assert len(only_hwd) == 10 and list(info["sources"]) == ["HwD-1000"]
    assert "HwD-1000" in real.in_words(info) and "DigiLeTs" not in real.in_words(info)
    shippable, _, info = real.real_training_digits(prepared, renderings=1, sources=real.SHIPPABLE)
    assert len(shippable) == unipen + 10 and info["shippable"] is True
    assert "CC BY 4.0" in real.in_words(info) and "UNIPEN" in info["sources"]
    assert info["sources"]["UNIPEN"]["attribution"].startswith("I. Guyon")
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
    assert f"{shipped}:\n  DigiLeTs judge" in line and "of 50); per digit 0:" in line and "ARDIS test" in line
    assert "UNIPEN judge" in line and "of 10); per digit" in line
    assert real_writers.main(["score", "--prepared", str(tmp_path)]) == 1
    assert "run `python -m bench.real_writers prepare`" in capsys.readouterr().err
    out = tmp_path / "again"
    assert real_writers.main(["prepare", "--source", str(sources), "--out", str(out), "--accept-other"]) == 0
    said = capsys.readouterr().out
    assert "50 DigiLeTs digits by 1 writers" in said and "10 UNIPEN digits by 1 writers" in said
    assert real_writers.main(["prepare", "--source", str(sources), "--out", str(tmp_path / "refused")]) == 1
    assert "--accept-other" in capsys.readouterr().err and not (tmp_path / "refused").exists()


def test_train_py_learns_real_writers_from_a_teacher_and_the_card_says_so(prepared, tiny_mnist_path, tmp_path):
    """train.py --extra-real --teacher end to end, on the tiny MNIST and the made-up writers: one short epoch."""
    import keras

    from model.training.ann import keras_bytes
    from model.training.extras.cnn import build_cnn

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


def test_train_py_refuses_to_teach_the_shipped_network_with_data_it_may_not_pass_on(prepared):
    root = Path(__file__).resolve().parent.parent
    shipped = (root / "model" / "mnist_ann.keras").read_bytes()
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(Path.home())}
    args = ["--extra-real", str(prepared), "--real-sources", "unipen", "digilets", "--out", "model/mnist_ann.keras"]
    result = subprocess.run(
        [sys.executable, "train.py", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "digilets may not teach it" in result.stderr
    assert (root / "model" / "mnist_ann.keras").read_bytes() == shipped
