"""A griefer against the page: what each attack gets and costs, and what 20 honest visitors feel meanwhile.

    python -m bench.griefers [--seconds 90] [--write]

One server as `streamlit run app.py` runs it (a public server: the browsers
here are visitors, not the owner; training runs stop themselves after
`RUN_LIMIT_S`, so that a run held by the griefer ends within the window).
The griefer speaks Streamlit's protocol (`testkit.protocol`) from an
address of its own (an `X-Forwarded-For` the server trusts from 127.0.0.1,
as it does from a proxy in front of it), in a process of its own at the
lowest CPU priority (a griefer's client runs on its own machine; what is
measured is what its attacks cost the server):

- **each attack as a row**: what the griefer got (the page's sentence or a
  refusal), the server's CPU and the growth of its memory while it ran;
- **nothing lost**: an honest visitor's samples, saved before, are all
  there after every attack;
- **the honest visitors**: 20 protocol visitors drawing (and 2 of them
  training) for `--seconds`, once alone and once while the griefer runs
  every attack in a loop: every stroke answered, the p95 of a stroke
  against the same 20 without the griefer, and the honest runs finished.

Then the same honest load through `make serve`'s proxy (2 replicas), the
griefer connecting from another loopback address (the proxy drops a
client's own `X-Forwarded-For`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.capacity import PUBLIC, load, one_server, replicas, warm
from bench.processes import cpu_seconds, rss_mb
from bench.report import machine, replace_section, table
from testkit.protocol import ProtocolError, Session
from testkit.strokes import drawings, string_array

GRIEFER = "203.0.113.66"  # the griefer's address, as the server sees it
RUN_LIMIT_S = 45
SECRETS = PUBLIC + 'admin_password = "the owner knows it, the griefer does not"\n'  # so there is a password to guess
MB = 1 << 20


class Refused(ProtocolError):
    """The page said why it did not open (too many pages from the griefer's address)."""


def page(url: str, where: dict) -> Session:
    session = Session(f"{url}/", timeout_s=30, **where)
    first = session.connect()
    canvas = [f for _, f, e in first.elements if e.WhichOneof("type") == "bidi_component"]
    if not canvas:
        session.close()
        raise Refused(said(first) or "the page opened without its canvas")
    session.fragment = canvas[0]
    return session


def stroke(session: Session, n: int = 0):
    value, _ = drawings()[n % len(drawings())]
    session.set_json(session.widget("bidi_component", "canvas").id, value)
    return session.rerun(session.fragment)


def said(run) -> str:
    """What the page said to the visitor in this run: its last alert or toast (a full run's first alert is
    the page's standing introduction)."""
    words = [a.body for a in run.find("alert")] + [t.body for t in run.find("toast")]
    return words[-1] if words else ""


def save_sample(session: Session, label: int) -> str:
    """Pick "Wrong? This is a …" `label`, as a visitor does to save the drawing; what the page said."""
    pills = session.widget("button_group", "correct")
    session.values[pills.id] = string_array(pills.id, [str(label)])
    run = session.rerun(session.fragment)
    # The page unselects the row after saving, and a browser takes that from the server; this client keeps
    # what it last set, and would send the label again with the next stroke (saving that one too).
    del session.values[pills.id]
    captions = [c.body for c in run.find("markdown") if "Saved as" in c.body or "You have" in c.body]
    return said(run) or (captions[0] if captions else "")


# -- the attacks: each returns what the griefer got, in words


def many_collections(url: str, where: dict) -> str:
    """Page loads that each save a sample: each would make a new collection of up to 2,000 samples."""
    made, refusal = 0, ""
    for n in range(130):
        try:
            session = page(url, where)
        except Refused as error:
            refusal = str(error)
            break
        stroke(session, n)
        answer = save_sample(session, n % 10)
        session.close()
        if "Too many new collections" in answer:
            refusal = answer
            break
        made += answer.startswith("Saved as")
    return f"{made} collections, then: “{refusal}”" if refusal else f"{made} collections, never refused"


def layer_flood(url: str, where: dict) -> str:
    """A "Hidden layers" of 3.9 MB (the largest message the server takes is 4 MB)."""
    session = page(url, where)
    session.set("text_input", "Hidden layers", "7, " * 1_300_000)
    received = session.bytes_received
    run = session.press("button", "FormSubmitter:train-Train")
    errors = [a.body for a in run.find("alert") if "layer" in a.body.lower()]
    session.close()
    return f"{len(errors)} sentence ({(session.bytes_received - received) / 1024:.0f} kB back): “{errors[0]}”"


def upload_flood(url: str, where: dict) -> str:
    """30 uploads of 5 MB to the griefer's own page, any file ids (150 MB held before)."""
    session = page(url, where)
    opener = session.http
    refused = 0
    for n in range(30):
        request = urllib.request.Request(
            f"{session.base}/_stcore/upload_file/{session.session_id}/flood-{n}",
            data=b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.npz"\r\n\r\n'
            + b"\0" * (5 * MB - 200)
            + b"\r\n--b--\r\n",
            method="PUT",
            headers={"Content-Type": "multipart/form-data; boundary=b", "X-Xsrftoken": session.xsrf or ""},
        )
        try:
            with opener.open(request, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError:
            refused += 1
    session.close()
    return f"30 sent, {30 - refused} answered 200, {refused} refused"


def queue_grab(url: str, where: dict, pages: int = 45) -> tuple[str, list[Session]]:
    """Many pages, each pressing Train with the largest run the sidebar allows."""
    held, refusal = [], ""
    for _ in range(pages):
        try:
            session = page(url, where)
        except Refused as error:
            refusal = str(error)
            break
        session.set("text_input", "Hidden layers", "1024, 1024, 1024, 1024")
        session.set("number_input", "Epochs", 50)
        run = session.press("button", "FormSubmitter:train-Train")
        errors = [a.body for a in run.find("alert") if "run" in a.body.lower() or "queue" in a.body.lower()]
        if errors:
            refusal = errors[0]
            session.close()
        else:
            held.append(session)
    return f"{len(held)} runs taken of {pages} asked, then: “{refusal}”", held


def page_flood(url: str, where: dict, pages: int = 200) -> str:
    """Page loads, each closed at once: what each costs the server until its address is refused, and after."""
    opened = 0
    for _ in range(pages):
        try:
            page(url, where).close()
            opened += 1
        except Refused as error:
            refused = 1
            for _ in range(20):  # what a refused page costs: these are in the row's CPU too
                try:
                    page(url, where).close()
                except Refused:
                    refused += 1
            return f"{opened} more opened, then {refused} refused: “{error}”"
    return f"{opened} opened, never refused"


def password_guesses(url: str, _where: dict) -> str:
    """Admin password guesses from ever-new addresses of one IPv6 /64, each a new page."""
    tried = 0
    for n in range(40):
        try:
            session = page(url, {"forwarded_for": f"2001:db8:0:1::{n + 1:x}"})
        except Refused as error:
            return f"{tried} guesses, then: “{error}”"
        session.set("text_input", "Admin password", f"guess {n}")
        run = session.press("button", "FormSubmitter:owner-Unlock")
        answer = said(run)
        session.close()
        if "Too many tries" in answer:
            return f"{tried} guesses, then: “{answer}”"
        tried += 1
    return f"{tried} guesses, never refused"


def agent_api(url: str, _where: dict) -> str:
    """A remote POST to Streamlit's agent API, which once made its caller the owner."""
    request = urllib.request.Request(f"{url}/_stcore/agent/interact", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: the agent API is off"


ATTACKS = [
    ("new collections from one address (page loads that each save a sample)", many_collections),
    ("a 3.9 MB list of hidden layers", layer_flood),
    ("30 uploads of 5 MB to its own page", upload_flood),
    ("admin password guesses from one IPv6 /64", password_guesses),
    ("Streamlit's agent API", agent_api),
]


def attack_rows(servers, database: str) -> tuple[list[list], bool]:
    """Each attack alone against the server: what it got, the server's CPU and memory growth; then whether an
    honest visitor's samples, saved before, are all still there and read back."""
    from sqlalchemy import select

    from model.store.db import reading
    from model.store.samples import SampleStore
    from model.store.schema import collections

    where = {"forwarded_for": GRIEFER}
    honest = page(servers.url, {"forwarded_for": "198.51.100.7"})
    for n in range(5):
        stroke(honest, n)
        save_sample(honest, n)
    honest.close()
    with reading("find the honest visitor's collection", database) as db:
        key = db.execute(select(collections.c.key).order_by(collections.c.id)).scalars().first()
    before = [entry["id"] for entry in SampleStore(key, url=database).entries()]
    pid = servers.pids[0]
    rows = [measured_row(pid, name, attack, servers.url, where) for name, attack in ATTACKS]
    grabbed, held = queue_grab(servers.url, where)
    rows.append(["training runs from one address (45 pages, the largest runs)", grabbed, "", "", ""])
    for session in held:
        session.close()
    rows.append(
        measured_row(pid, "pages opened from one address, after the attacks above", page_flood, servers.url, where)
    )
    kept = SampleStore(key, url=database)
    after = [entry["id"] for entry in kept.entries()]
    return rows, len(before) == 5 and after == before and all(kept.load(i) is not None for i in after)


def measured_row(pid: int, name: str, attack, url: str, where: dict) -> list:
    """One attack alone: what it got, and the server's CPU, memory growth and wall time for it."""
    cpu, memory, started = cpu_seconds(pid), rss_mb(pid), time.perf_counter()
    try:
        got = attack(url, where)
    except Refused as error:
        got = f"the page did not open: “{error}”"
    except (ProtocolError, OSError) as error:
        got = f"the attack failed: {error}"
    row = [
        name,
        got,
        f"{cpu_seconds(pid) - cpu:.2f}",
        f"{rss_mb(pid) - memory:+.0f}",
        f"{time.perf_counter() - started:.0f}",
    ]
    print(row, flush=True)
    return row


def griefer_loop(url: str, where: dict, stop: threading.Event, log: list) -> None:
    """Every attack, over and over, while the honest visitors draw; the queue held all along."""
    got, held = queue_grab(url, where)
    log.append(got)
    while not stop.is_set():
        for name, attack in ATTACKS:
            if stop.is_set():
                break
            try:
                log.append(f"{name}: {attack(url, where)}")
            except (ProtocolError, OSError) as error:
                log.append(f"{name}: failed ({error})")
            for session in held:  # keep the held runs' pages alive: a page nobody looks at loses its run
                try:
                    session.rerun_due()
                except (ProtocolError, OSError):
                    pass
    for session in held:
        session.close()


def honest_load(servers, seconds: float, home: Path, griefer_where: dict | None) -> dict:
    """20 visitors drawing (2 of them training) for `seconds`, with the griefer running or not.

    The griefer is a process of its own at the lowest CPU priority: a griefer's client runs on its own
    machine, and what is measured is what its attacks cost the server, not its client's share of these
    2 cores (building 150 MB of uploads and 4 MB messages in Python)."""
    home.mkdir(parents=True, exist_ok=True)
    griefer = None
    if griefer_where is not None:
        command = [sys.executable, "-m", "bench.griefers", "--griefer", servers.url, json.dumps(griefer_where)]
        griefer = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.nice(19), cwd=Path(__file__).parent.parent
        )
        time.sleep(20)  # the griefer's pages hold the queue before the honest trainers ask
    measured = load(servers, 20, seconds, home, LOAD_TRAINERS=2)
    if griefer is not None:
        griefer.send_signal(signal.SIGINT)
        log, _ = griefer.communicate(timeout=300)
        measured["griefer"] = log.splitlines()[:3]
    return measured


def griefer_process(url: str, where: dict) -> int:
    """`--griefer URL WHERE`: every attack in a loop until interrupted, what it got printed line by line."""
    stop, log = threading.Event(), []
    loop = threading.Thread(target=griefer_loop, args=(url, where, stop, log), daemon=True)
    loop.start()
    try:
        while loop.is_alive():
            loop.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()
        loop.join(timeout=240)
    print("\n".join(log), flush=True)
    return 0


def run(seconds: float) -> dict:
    home = Path(tempfile.mkdtemp(prefix="griefers-"))
    os.environ["READMYDIGIT_MAX_RUN_SECONDS"] = str(RUN_LIMIT_S)  # the servers started below inherit it
    results: dict = {}
    servers = one_server("app.py", home / "attacks", SECRETS)
    try:
        warm(servers)
        results["rows"], results["nothing_lost"] = attack_rows(
            servers, f"sqlite:///{home / 'attacks' / 'samples.sqlite3'}"
        )
    finally:
        servers.stop()
    for mode, start, where in (
        ("one server", lambda h: one_server("app.py", h, SECRETS), {"forwarded_for": GRIEFER}),
        ("2 replicas behind the proxy", lambda h: replicas(2, h, SECRETS), {"source": "127.0.9.9"}),
    ):
        servers = start(home / mode.replace(" ", "-"))
        try:
            warm(servers)
            alone = honest_load(servers, seconds, home / f"{mode}-alone", None)
            griefed = honest_load(servers, seconds, home / f"{mode}-griefed", where)
            results[mode] = {"alone": alone, "griefed": griefed}
            print(mode, alone["p95"], griefed["p95"], flush=True)
        finally:
            servers.stop()
    return results


def markdown(r: dict, command: str) -> str:
    rows = []
    for mode in ("one server", "2 replicas behind the proxy"):
        alone, griefed = r[mode]["alone"], r[mode]["griefed"]
        rows.append(
            [
                mode,
                f"{alone['answered']}/{alone['sent']}, p95 {alone['p95']:.0f} ms, {alone['trained']}/2 trained",
                f"{griefed['answered']}/{griefed['sent']}, p95 {griefed['p95']:.0f} ms, {griefed['trained']}/2 trained",
                f"**{griefed['p95'] / alone['p95']:.2f}×**",
            ]
        )
    return "\n".join(
        [
            "## Griefers: limits per address and in all (issue 27)",
            "",
            f"`{command}` — {machine()}. {__doc__.split(chr(10) + chr(10))[2].strip()}",
            "",
            table(["attack", "what the griefer got", "server CPU (s)", "server memory (MB)", "took (s)"], r["rows"]),
            "",
            f"An honest visitor's 5 samples, saved before the attacks: "
            f"{'all there after them' if r['nothing_lost'] else 'NOT all there'}.",
            "",
            table(
                ["20 honest visitors (2 training)", "alone: answered, p95, runs", "with the griefer", "p95 ratio"],
                rows,
            ),
            "",
            "Target: every stroke answered, p95 at most 1.5× the same 20 without the griefer, the honest runs "
            "finished.",
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--write", action="store_true", help="rewrite the griefers section of BENCHMARKS.md")
    parser.add_argument("--griefer", nargs=2, metavar=("URL", "WHERE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.griefer:
        return griefer_process(args.griefer[0], json.loads(args.griefer[1]))
    result = run(args.seconds)
    text = markdown(result, shlex.join(["python", "-m", "bench.griefers", *(argv or sys.argv[1:])]))
    print(text)
    if args.write:
        replace_section("griefers", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
