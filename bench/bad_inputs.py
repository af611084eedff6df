"""Bad inputs: every hostile or careless input we could think of, tried, and what happened.

    python -m bench.bad_inputs [--write]

Each row tries one input through the function the page calls with it (or
the page itself, through Streamlit's AppTest), then checks that nothing was
lost: a visitor's collection of 5 samples is intact, and the default network
still loads as a consistent pair. A row passes when the input got a clear
sentence (or was handled as the page intends), nothing raised past the
page, and nothing was lost. Time and memory (peak of Python allocations)
are measured per row, to show bounded inputs cost nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.report import machine, replace_section, table
from model.store.network_file import copy_network_file

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "model" / "mnist_ann.keras"


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def png(size, mode="RGBA", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format=fmt)
    return buffer.getvalue()


def lying_header() -> bytes:
    good = npz(images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 2], np.uint8))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = src.read(info)
            if info.filename == "images.npy":
                member = member.replace(b"(2, 28, 28)", b"(1000000, 28, 28)")
            dst.writestr(info.filename, member)
    return out.getvalue()


def image(seed: int) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    return arr


class Rig:
    """A copy of the default and a visitor's collection of 5 samples, to check that nothing is lost."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
        self.model = self.home / "model" / "net.keras"
        self.model.parent.mkdir()
        copy_network_file(SHIPPED, self.model)
        from model.store.collection import new_token, visitor_store

        self.url = f"sqlite:///{self.home / 'samples.sqlite3'}"
        self.token = new_token()
        self.store = visitor_store(self.token, self.url)
        self.ids = [self.store.add(image(i), i).id for i in range(5)]

    def nothing_lost(self) -> bool:
        from model.store.defaults import current_default
        from model.store.network_file import read_network_file

        try:
            entries = [e["id"] for e in self.store.entries()]
            [self.store.load(i) for i in self.ids]
            read_network_file(self.model)
            return entries[:5] == self.ids and current_default(self.url, self.model)[1] is None
        except Exception:
            return False

    def restore_model(self):
        copy_network_file(SHIPPED, self.model)


# What the code raises on purpose: each carries a sentence the page shows as it is.
SENTENCES = ("SampleError", "DrawingError", "ModelFileError", "CollectionError", "StoreUnavailable")


def attempt(action) -> tuple[str, bool, float, float]:
    """Run `action`; return what it said, whether that is a sentence meant for a person, seconds, peak MB."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        said, sentence = str(action()), True
    except Exception as error:
        said, sentence = f"{type(error).__name__}: {error}", type(error).__name__ in SENTENCES
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return said, sentence, seconds, peak


def rows(rig: Rig) -> list[dict]:
    from model.reading.preprocess import read_png, to_mnist
    from model.store.card import ModelCard
    from model.store.network_file import write_network_file
    from model.store.samples import SampleStore

    store = rig.store
    bomb = npz(images=np.zeros((250_000, 28, 28), np.uint8), labels=np.zeros(250_000, np.uint8))
    huge_png = png((9000, 9000), "1")
    cases = [
        (
            "import: 190 KiB .npz that unpacks to 187 MiB (a zip bomb)",
            f"{len(bomb) >> 10} KiB",
            lambda: store.import_file(bomb),
        ),
        ("import: an .npy header that claims 1,000,000 images", "0.4 KiB", lambda: store.import_file(lying_header())),
        (
            "import: float images",
            "",
            lambda: store.import_file(npz(images=np.zeros((2, 28, 28)), labels=np.array([1, 2]))),
        ),
        (
            "import: text labels",
            "",
            lambda: store.import_file(npz(images=np.zeros((2, 28, 28), np.uint8), labels=np.array(["a", "b"]))),
        ),
        (
            "import: a label 12",
            "",
            lambda: store.import_file(npz(images=np.zeros((2, 28, 28), np.uint8), labels=np.array([3, 12]))),
        ),
        (
            "import: images 5×5",
            "",
            lambda: store.import_file(npz(images=np.zeros((2, 5, 5), np.uint8), labels=np.array([1, 2]))),
        ),
        (
            "import: a pickled object array",
            "",
            lambda: store.import_file(npz(images=np.array([None, {"a": 1}], dtype=object), labels=np.array([1, 2]))),
        ),
        (
            "import: a truncated file",
            "",
            lambda: store.import_file(npz(images=np.zeros((9, 28, 28), np.uint8), labels=np.arange(9))[:300]),
        ),
        ("import: not a zip at all", "", lambda: store.import_file(b"GIF89a" + b"\0" * 100)),
        (
            "import: 2,001 samples (beyond the collection's quota)",
            "",
            lambda: store.import_file(
                npz(
                    images=np.random.default_rng(0).integers(0, 256, (2001, 28, 28), dtype=np.uint8),
                    labels=np.zeros(2001, np.uint8),
                )
            ),
        ),
        ("canvas: a 9000×9000 PNG in a small message", f"{len(huge_png) >> 10} KiB", lambda: read_png(huge_png, 840)),
        ("canvas: a greyscale (mode L) PNG", "", lambda: f"read: {read_png(png((280, 280), 'L'), 840).shape}"),
        ("canvas: a palette (mode P) PNG", "", lambda: f"read: {read_png(png((280, 280), 'P'), 840).shape}"),
        ("canvas: a 16-bit (mode I;16) PNG", "", lambda: f"read: {read_png(png((280, 280), 'I;16'), 840).shape}"),
        ("canvas: a GIF instead of a PNG", "", lambda: read_png(png((280, 280), "RGB", "GIF"), 840)),
        ("canvas: random bytes", "", lambda: read_png(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 840)),
        ("canvas: a 4×4 image", "", lambda: read_png(png((4, 4)), 840)),
        ("canvas: an all-transparent drawing", "", lambda: f"no digit: {to_mnist(read_png(png((280, 280)), 840))}"),
        ("sample: strokes of 2 MiB", "", lambda: store.add(image(9), 3, {"objects": ["x" * (2 << 20)]})),
        ("sample: label '../../etc'", "", lambda: store.add(image(9), "../../etc")),
        (
            "sample: a 2,001st sample",
            "",
            lambda: SampleStore(store.key, max_samples=5, url=rig.url).add(image(10), 1),
        ),
        ("sample: delete an id that is a path", "", lambda: store.delete("../../model/net")),
        ("sample: read an id that is SQL", "", lambda: store.load("x' OR '1'='1")),
        ("sample: the disk is full while saving", "", lambda: disk_full(rig)),
        (
            "sample: the database holds its limit in all (READMYDIGIT_MAX_DATABASE_MB)",
            "",
            lambda: SampleStore("visitors/another", url=rig.url, max_database_bytes=1).add(image(11), 1),
        ),
        ("training: 3.9 MB of hidden layers", "3.9 MiB", layer_flood),
        ("training: 10,000 hidden layers of 0 units", "", lambda: " ".join(too_many_layers())),
        ("sample: the database server cannot be reached", "", lambda: unreachable(rig.home)),
        ("collection: the token '../../etc' in the URL", "", lambda: collection_of("../../etc")),
        ("collection: a guessed token", "", lambda: collection_of("0" * 32)),
        ("network file: card is valid JSON of the wrong shape", "", lambda: wrong_card(rig)),
        (
            "network file: network replaced, card left (a kill between the two writes)",
            "",
            lambda: mismatched_pair(rig),
        ),
        ("network file: the network is garbage", "", lambda: garbage_model(rig)),
        (
            "network file: write bytes that are not a network",
            "",
            lambda: write_network_file(rig.model, b"PK\x03\x04junk", ModelCard()),
        ),
        ("default: a saved row whose weights do not match its card", "", lambda: tampered_row(rig)),
    ]
    results = []
    for name, size, action in cases:
        said, sentence, seconds, peak = attempt(action)
        rig.restore_model()
        results.append(
            {
                "input": name,
                "size": size,
                "said": said,
                "seconds": seconds,
                "peak_mb": peak,
                "nothing_lost": rig.nothing_lost(),
                "sentence": sentence,
            }
        )
    return results


def disk_full(rig):
    """SQLite's own "database or disk is full", made by forbidding the file to grow."""
    from sqlalchemy import event

    from model.store.db import engine

    def tiny(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA max_page_count=1")

    engine(rig.url).dispose()
    event.listen(engine(rig.url), "connect", tiny)
    try:
        rig.store.import_file(npz(images=image_stack(300), labels=np.arange(300) % 10))
        return "saved?"
    finally:
        event.remove(engine(rig.url), "connect", tiny)
        engine(rig.url).dispose()


def image_stack(n):
    return np.random.default_rng(7).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def unreachable(home):
    from model.store.collection import new_token, visitor_store

    visitor_store(new_token(), f"postgresql+psycopg://app@/none?host={home}&port=9").add(image(13), 1)
    return "saved?"


def layer_flood() -> str:
    """What "Hidden layers" of 3.9 MB gives: refused before it is parsed, in one sentence."""
    from model.config import parse_layer_sizes

    try:
        parse_layer_sizes("7, " * 1_300_000)
    except ValueError as error:
        return f"one sentence: {error}"
    return "parsed"


def too_many_layers() -> list[str]:
    from model.config import APP_LIMITS, TrainConfig

    return TrainConfig(hidden=(0,) * 10_000).problems(APP_LIMITS)


def tampered_row(rig):
    from sqlalchemy import update

    from model.store.db import engine
    from model.store.defaults import current_default, publish
    from model.store.network_file import read_network_file
    from model.store.schema import default_networks

    publish(read_network_file(rig.model), rig.url, rig.model)
    with engine(rig.url).begin() as db:
        db.execute(update(default_networks).where(default_networks.c.current).values(weights=b"PK garbage"))
    _, problem = current_default(rig.url, rig.model)
    said = f"read the earlier default; the owner is told: {problem}"
    with engine(rig.url).begin() as db:  # leave the rig as it was: nothing saved, the shipped network read
        db.execute(default_networks.delete())
    return said


def collection_of(token):
    from model.store.collection import visitor_store

    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'samples.sqlite3'}"
    return f"an empty collection of its own: {len(visitor_store(token, url).entries())} samples"


def wrong_card(rig):
    from model.store.network_file import read_network_file

    card = json.loads(rig.model.with_suffix(".json").read_text())
    card["test"] = {"accuracy": "very high"}
    card["hyperparameters"] = ["not", "a", "dict"]
    rig.model.with_suffix(".json").write_text(json.dumps(card))
    loaded = read_network_file(rig.model)
    kept = {"test": loaded.card.test is not None, "hyperparameters": bool(loaded.card.hyperparameters)}
    return f"loaded; fields dropped: {sorted(name for name, there in kept.items() if not there)}"


def mismatched_pair(rig):
    from bench.faults import variant
    from model.store.card import ModelCard
    from model.store.network_file import read_network_file, write_network_file

    old_card = rig.model.with_suffix(".json").read_text()
    write_network_file(rig.model, variant(SHIPPED.read_bytes(), 1), ModelCard(other={"note": "new"}))
    rig.model.with_suffix(".json").write_text(old_card)
    return read_network_file(rig.model)


def garbage_model(rig):
    from model.store.network_file import read_network_file

    rig.model.write_bytes(b"\0" * 1000)
    return read_network_file(rig.model)


def page_rows(rig: Rig) -> list[dict]:
    """Inputs that only the page sees: through AppTest, as a visitor who is not the owner."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["MODEL_PATH"] = str(rig.model)
    os.environ["SAMPLES_DATABASE_URL"] = rig.url
    results = []

    def page(query=None, secrets=None):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        for key, value in (secrets or {}).items():
            at.secrets[key] = value
        return at.run()

    def crafted_save():
        """What a forged "Save as default" message would run, in the session of a visitor who is not the owner."""

        def forged():
            import streamlit as st

            from ui.owner import save_as_default
            from ui.session import add_network, session_networks

            add_network(session_networks()["Default"], "Forged")
            save_as_default("Forged #1")
            st.write(st.session_state.save_message[1])

        from model.store.defaults import version

        before = version(rig.url)
        at = AppTest.from_function(forged, default_timeout=60).run()
        unchanged = version(rig.url) == before
        return f"{at.markdown[0].value if at.markdown else at.exception} (default unchanged: {unchanged})"

    def password_guessing():
        at = page(secrets={"admin_password": "s3cret"})
        for guess in ["a", "b", "c", "d", "e", "s3cret"]:
            [box] = [t for t in at.sidebar.text_input if t.label == "Admin password"]
            box.set_value(guess)
            [button] = [b for b in at.sidebar.button if b.label == "Unlock"]
            at = button.click().run()
        errors = [e.value for e in at.sidebar.error]
        return f"6th try (the right password) refused: {errors[-1] if errors else 'no message'}"

    def bad_token():
        at = page(query={"samples": "../../etc"})
        at.segmented_control(key="explore").set_value("Teach it your handwriting").run()
        return " / ".join(w.value for w in at.main.warning) or "no message"

    def broken_default():
        rig.model.write_bytes(b"not a model")
        at = page()
        said = [e.value for e in at.main.error] + [f"reads with: {r.value}" for r in at.sidebar.radio[:1]]
        return " / ".join(said)

    for name, action in [
        ("page: Save as default from a visitor who is not the owner", crafted_save),
        ("page: guessing the admin password", password_guessing),
        ("page: the token '../../etc' in the URL", bad_token),
        ("page: the default network file is garbage", broken_default),
    ]:
        said, sentence, seconds, peak = attempt(action)
        rig.restore_model()
        results.append(
            {
                "input": name,
                "size": "",
                "said": said,
                "seconds": seconds,
                "peak_mb": peak,
                "nothing_lost": rig.nothing_lost(),
                "sentence": sentence and "Traceback" not in said,
            }
        )
    return results


def markdown(results: list[dict], command: str) -> str:
    body = [
        [
            r["input"],
            r["size"],
            r["said"].replace("|", "\\|").replace("\n", " ")[:220],
            f"{r['seconds'] * 1000:.0f} ms",
            f"{r['peak_mb']:.1f} MB",
            "clear message, nothing lost" if r["sentence"] and r["nothing_lost"] else "**NOT CLEAN**",
        ]
        for r in results
    ]
    clean = sum(r["sentence"] and r["nothing_lost"] for r in results)
    return "\n".join(
        [
            "## Bad inputs",
            "",
            "Each row: one hostile or careless input, tried through the function the page calls with it (or the "
            "page itself through AppTest, as a visitor who is not the owner); what it said (the sentence the page "
            "shows); the time and the peak of Python allocations it cost; and whether a visitor's 5 saved samples "
            "and the default network were intact after it.",
            "",
            table(["input", "size", "what happened", "time", "peak memory", "verdict"], body),
            "",
            f"**{clean} of {len(results)} rows: clear message, nothing lost.**",
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bad_inputs", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the Bad inputs section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    rig = Rig()
    try:
        results = rows(rig) + page_rows(rig)
    finally:
        shutil.rmtree(rig.home, ignore_errors=True)
    text = markdown(results, "python -m bench.bad_inputs")
    print(text)
    if args.write:
        replace_section("bad-inputs", text)
    return 0 if all(r["sentence"] and r["nothing_lost"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
