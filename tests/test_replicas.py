"""Two replicas behind HAProxy (`scripts/serve.py`), visited through the proxy as browsers would.

One server set for the module: `serve.py --replicas 2` with its own training
cluster, database and copy of the default, visitors speaking Streamlit's
protocol (testkit.protocol). Each visitor's replica is the proxy's cookie
(REPLICA=r1 or r2); a test that needs a visitor on a given replica holds
that cookie, as a browser that was sent there does.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.store.network_file import copy_network_file
from scripts.serve import RESTART_DELAY_S, NotAnswering, wait_healthy
from testkit.chromium import ROOT
from testkit.protocol import Session
from testkit.strokes import drawing_pool

pytestmark = pytest.mark.slow  # starts a proxy, two servers and a training cluster

PASSWORD = "a long passphrase for the owner"


@dataclass
class Served:
    url: str
    port: int
    home: Path
    process: subprocess.Popen

    def replica_pids(self, number: int) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-f", f"streamlit run .*--server.port {self.port + number}"], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]

    def replica_pid(self, number: int) -> int:
        found = self.replica_pids(number)
        assert found, f"replica {number} is not running"
        return found[0]


def free_ports(n: int) -> int:
    """A port with the n-1 ports above it free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n < 65535 and all(_free(base + k) for k in range(n)):
            return base
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_mnist_path):
    home = tmp_path_factory.mktemp("served")
    model = home / "mnist_ann.keras"
    copy_network_file(ROOT / "model" / "mnist_ann.keras", model)
    secrets = home / "secrets.toml"
    secrets.write_text(f'owner_on_this_machine = false\nadmin_password = "{PASSWORD}"\n')
    env = {
        **os.environ,
        "MODEL_PATH": str(model),
        "MNIST_PATH": str(tiny_mnist_path),
        "SAMPLES_DATABASE_URL": f"sqlite:///{home / 'samples.sqlite3'}",
    }
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    port = free_ports(3)
    command = [sys.executable, str(ROOT / "scripts" / "serve.py"), "--replicas", "2", "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--logs", str(home / "logs"), "--", "--secrets.files", str(secrets)]
    log = open(home / "serve.log", "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout_s=240)
    except NotAnswering as error:
        pytest.fail(f"The replicas did not come up: {error}\n{(home / 'serve.log').read_text()[-3000:]}")
    yield Served(url, port, home, process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def strokes(mnist):
    _, (x_test, y_test) = mnist
    return drawing_pool(x_test, y_test, 6)


def visit(served: Served, replica: int | None = None, query: str = "", timeout_s: float = 60.0) -> Session:
    """A new visitor through the proxy (on `replica`, if given: the proxy's cookie says where)."""
    session = Session(f"{served.url}/{'?' + query if query else ''}", timeout_s=timeout_s)
    if replica is not None:
        session.set_cookie("REPLICA", f"r{replica}")
    session.first = session.connect()
    session.fragment = next(f for _, f, e in session.first.elements if e.WhichOneof("type") == "bidi_component")
    return session


def stroke(session: Session, drawing) -> str | None:
    session.set_json(session.widget("bidi_component", "canvas").id, drawing)
    return session.rerun(session.fragment).metric("Prediction")


def open_teach_panel(session: Session):
    session.set("button_group", "explore", ["Teach it your handwriting"])
    return session.rerun()  # "Look closer" is outside the canvas's fragment: the whole page reruns


def samples_said(run) -> str:
    return " ".join(m.body for m in run.find("markdown") if "Your samples" in m.body)


def train(session: Session, layers: str = "16", epochs: int = 1) -> None:
    session.set("text_input", "Hidden layers", layers)
    session.set("number_input", "Epochs", epochs)
    session.press("button", "FormSubmitter:train-Train")


def wait_trained(session: Session, name: str = "Trained #1", timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        session.rerun_due()
        active = [w.state.string_value for w in session.widgets.values() if w.kind == "radio" and w.state]
        if any(a.startswith(name) for a in active):
            return
        time.sleep(0.2)
    pytest.fail(f"{name} was never listed")


def progress_texts(runs) -> list[str]:
    return [p.text for run in runs for p in run.find("progress")]


def test_two_visitors_land_on_different_replicas_and_keep_their_samples_apart(served, strokes):
    a, b = visit(served), visit(served)
    assert {a.cookie("REPLICA"), b.cookie("REPLICA")} == {"r1", "r2"}, "the proxy spreads new visitors"
    value, label = strokes[0]
    assert stroke(a, value) == str(label)
    a.set("button_group", "correct", [str(label)])
    a.rerun(a.fragment)
    assert "samples=" in a.query, "the first save gives the page its private address"
    assert "0 in all" in samples_said(open_teach_panel(b)), "B sees nothing of A's"
    other = 2 if a.cookie("REPLICA") == "r1" else 1
    bookmark = visit(served, replica=other, query=a.query)  # A's bookmark, opened where B's server is
    assert bookmark.cookie("REPLICA") == f"r{other}"
    assert "1 in all" in samples_said(open_teach_panel(bookmark))
    for session in (a, b, bookmark):
        session.close()


def test_a_place_in_line_counts_both_replicas_runs(served):
    first, second = visit(served, replica=1), visit(served, replica=2)
    # Long enough to be still running while the second asks, even on the tests' small MNIST (it is stopped below).
    train(first, layers="1024, 1024, 1024", epochs=50)
    deadline = time.time() + 120
    while not any("Epoch" in t for t in progress_texts(first.rerun_due())):
        assert time.time() < deadline, "the first run never started"
        time.sleep(0.2)
    train(second)
    said = []
    deadline = time.time() + 30
    while not any("1 run ahead of yours" in t for t in said) and time.time() < deadline:
        said += progress_texts(second.rerun_due())
        time.sleep(0.2)
    assert any("1 run ahead of yours" in t for t in said), said
    first.press("button", "Stop training")
    wait_trained(second)
    for session in (first, second):
        session.close()


def test_a_default_saved_on_one_replica_is_what_new_visitors_of_the_other_get(served):
    owner = visit(served, replica=1)
    owner.set("text_input", "Admin password", PASSWORD)
    owner.press("button", "FormSubmitter:owner-Unlock")
    train(owner, layers="12", epochs=1)
    wait_trained(owner)
    saved = owner.press("button", "Save as default")  # one transaction: its sentence comes with this run
    said = [a.body for a in saved.find("alert")]
    assert any("Saved Trained #1 as the default" in body for body in said), said
    newcomer = visit(served, replica=2)
    default = newcomer.widget("radio", "Draw against").state.string_value
    assert default.startswith("Default: 784 → 12 → 10"), default
    owner.rerun()
    owner.press("button", "Roll back")  # the shipped network again, for the next test's visitors
    assert (
        visit(served, replica=2)
        .widget("radio", "Draw against")
        .state.string_value.startswith("Default: 784 → 800 → 400 → 10")
    )
    owner.close()
    newcomer.close()


def test_a_killed_replicas_visitor_goes_on_on_the_other(served, strokes):
    visitor = visit(served, replica=1)
    train(visitor, layers="8", epochs=1)
    wait_trained(visitor)
    value, label = strokes[1]
    assert stroke(visitor, value) is not None
    visitor.set("button_group", "correct", [str(label)])
    visitor.rerun(visitor.fragment)
    assert "trained=1" in visitor.query and "samples=" in visitor.query
    os.kill(served.replica_pid(1), signal.SIGKILL)
    with pytest.raises(Exception):  # noqa: B017 - the page's websocket is gone, whatever the library calls it
        stroke(visitor, value)
    first = visitor.reconnect()  # the page reconnects by itself; the proxy sends it to the live replica
    assert visitor.cookie("REPLICA") == "r2"
    said = [a.body for a in first.find("alert")]
    assert any("1 network you trained before this page reconnected is gone" in s for s in said), said
    visitor.fragment = next(f for _, f, e in first.elements if e.WhichOneof("type") == "bidi_component")
    for value, _ in strokes[2:5]:
        assert stroke(visitor, value) in set("0123456789"), "it goes on drawing"
    assert "1 in all" in samples_said(open_teach_panel(visitor)), "its sample is intact"
    visitor.close()
    deadline = time.time() + 90  # serve.py starts the killed replica again
    while time.time() < deadline:
        try:
            served.replica_pid(1)
            break
        except AssertionError:
            time.sleep(0.5)
    else:
        pytest.fail("the killed replica was not started again")


def test_the_proxy_keeps_metrics_to_itself_and_a_flood_of_uploads_out(served):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{served.url}/_stcore/metrics", timeout=5)
    assert refused.value.code == 403
    statuses = []
    for n in range(40):  # PUTs to a made-up session: the replica would answer 400, the proxy first counts them
        request = urllib.request.Request(f"{served.url}/_stcore/upload_file/nosession/{n}", data=b"x", method="PUT")
        try:
            urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    assert 429 in statuses and statuses.index(429) >= 30, "30 uploads a minute from one source, then 429"


def test_serve_stops_at_once_even_while_it_waits_to_restart_a_replica(served):
    """Last in this module: it stops the module's servers. SIGTERM must not wait out the restart's delay."""
    os.kill(served.replica_pid(2), signal.SIGKILL)
    deadline = time.time() + 15
    while "Replica 2 exited" not in (served.home / "serve.log").read_text():
        assert time.time() < deadline, "serve.py did not notice the killed replica"
        time.sleep(0.1)
    asked = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=60)
    took = time.monotonic() - asked
    assert took < RESTART_DELAY_S, f"serve.py took {took:.1f} s to stop: it slept through the restart's delay"
    assert served.process.returncode == 0
    assert not served.replica_pids(1), "replica 1 was left"
