"""Serve the page to a big audience: K Streamlit replicas behind HAProxy, one training cluster.

    make serve REPLICAS=2 PORT=8501
    python scripts/serve.py --replicas 2 --port 8501

Streamlit runs a server as one Python process; this starts several and a
reverse proxy in front of them, so that more processes (and machines)
carry more visitors:

- the training cluster, unless `DASK_SCHEDULER_ADDRESS` names one: a
  scheduler and workers as the app's own local cluster has them
  (`model.jobs.cluster.local_cluster`), held by this process, warmed up
  before the replicas start (so the first visitor's run finds TensorFlow
  imported and the default network compiled); every replica sends its
  runs there, so there is one line for all of them;
- K replicas, `streamlit run app.py` on 127.0.0.1, ports PORT+1 … PORT+K,
  sharing the samples' database and the default network (see README, "Many
  visitors") and one cookie secret;
- HAProxy on PORT, configured from `scripts/haproxy.cfg`: sticky sessions
  by cookie, health checks, a dead replica's visitors sent elsewhere.

A replica that exits (a crash, a `kill -9`) is started again; Ctrl-C (or
SIGTERM) stops everything. `--backend HOST:PORT` (repeatable) puts replicas
that run on other machines behind the proxy instead of starting local ones.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATE = ROOT / "scripts" / "haproxy.cfg"
SERVERS_MARK = "    # SERVERS:"
MAX_REPLICAS = 32
# A worker's warm-up (TensorFlow's import, MNIST, compiling the default network) takes about 8 s on
# 2 cores; a first visitor who pressed Train before it was done waited for it (13.8 s to their network,
# 1.56× a plain model.fit, against 5 s once warm).
WARM_UP_TIMEOUT_S = 120
RESTART_DELAY_S = 5.0  # longer than HAProxy takes to mark a dead replica down (haproxy.cfg): its visitors go elsewhere


def ends_with_us():
    """For `Popen(preexec_fn=...)`: the child is ended when this script dies, even by `kill -9`."""
    from model.jobs.lifeline import tie_to_parent

    parent = os.getpid()
    return lambda: tie_to_parent(parent)


def proxy_config(backends: list[str], bind: str) -> str:
    """The HAProxy configuration: the template with one server line per backend (`host:port`)."""
    text = TEMPLATE.read_text()
    if SERVERS_MARK not in text:
        raise SystemExit(f"{TEMPLATE} has lost its '{SERVERS_MARK.strip()}' line; serve.py writes the servers there.")
    servers = "".join(f"    server r{n} {backend} check cookie r{n}\n" for n, backend in enumerate(backends, start=1))
    return text.replace("${SERVE_BIND}", bind).replace(SERVERS_MARK, servers + SERVERS_MARK, 1)


def check_config(path: Path) -> None:
    """HAProxy's own check of a configuration (`haproxy -c`); a sentence and exit if it fails."""
    result = subprocess.run([haproxy(), "-c", "-q", "-f", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"HAProxy refused the configuration {path}: {result.stderr.strip() or result.stdout.strip()}")


def haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        raise SystemExit(
            "Serving replicas needs HAProxy: install it with `sudo apt-get install haproxy` "
            "(or `./scripts/install-debian-packages.sh haproxy`)."
        )
    return found


def start_cluster():
    """The one training cluster of every replica (a local one), warmed up.

    This process keeps the cluster, not a client of it: the replicas are its
    clients, and a client here would only add its reconnection errors to the
    terminal when Ctrl-C ends the cluster's processes along with this one.

    A warm-up that fails or takes too long is said, and serving goes on: the
    page says why training is unavailable, or the first run warms the worker.
    """
    from distributed import Client

    from model.jobs.cluster import local_cluster
    from model.jobs.service import WARM_UP_PRIORITY
    from model.jobs.tasks import warm_up

    cluster = local_cluster()
    with Client(cluster, set_as_default=False) as client:
        warm = client.submit(warm_up, pure=False, priority=WARM_UP_PRIORITY)
        try:
            warm.result(timeout=WARM_UP_TIMEOUT_S)
        except Exception as error:
            print(f"The training worker did not warm up ({type(error).__name__}: {error}); serving anyway.", flush=True)
    return cluster


class NotAnswering(RuntimeError):
    """A server that exited, or did not answer its health check in time."""


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90, poll_s: float = 0.2) -> None:
    """Until `url`'s /_stcore/health answers 200 (Streamlit's, or HAProxy's in front of it); `process` serves it.

    The one health-check wait of the project: serve.py's replicas and proxy, the tests' servers and the
    benchmarks' all use it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotAnswering(f"The server for {url} exited at start-up with status {process.returncode}.")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(poll_s)
    raise NotAnswering(f"{url} did not answer within {timeout_s:.0f} s.")


def streamlit_command(script: str | Path, port: int, args: list[str] | None = None) -> list[str]:
    """`streamlit run script` on 127.0.0.1:port, headless, with `args` after."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        *(args or []),
    ]


class Replica:
    """One `streamlit run app.py` on 127.0.0.1:port, started again whenever it exits."""

    def __init__(self, number: int, port: int, env: dict, logs: Path, args: list[str]):
        self.number, self.port, self.env, self.args = number, port, env, args
        self.log = logs / f"replica-{number}.log"
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        command = streamlit_command(ROOT / "app.py", self.port, self.args)
        out = open(self.log, "a")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=ends_with_us()
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/serve.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--replicas", type=int, default=2, help=f"Streamlit processes on this machine (1-{MAX_REPLICAS})"
    )
    parser.add_argument("--port", type=int, default=8501, help="the proxy's port; replicas take the next ones")
    parser.add_argument("--bind", default="0.0.0.0", help="the proxy's address (default: every interface)")
    parser.add_argument(
        "--backend", action="append", default=[], metavar="HOST:PORT", help="a replica on another machine (repeatable)"
    )
    parser.add_argument("--logs", type=Path, default=None, help="folder for the replicas' and the proxy's logs")
    parser.add_argument("streamlit_args", nargs="*", help="passed to every `streamlit run` (after --)")
    args = parser.parse_args(argv)
    if not args.backend and not 1 <= args.replicas <= MAX_REPLICAS:
        parser.error(f"--replicas must be 1 to {MAX_REPLICAS}")
    if not 1 <= args.port <= 65535 - MAX_REPLICAS:
        parser.error("--port must leave room for the replicas' ports above it")

    logs = args.logs or Path(tempfile.mkdtemp(prefix="serve-"))
    logs.mkdir(parents=True, exist_ok=True)
    proxy_binary = haproxy()

    env = dict(os.environ)
    # Every replica signs and reads the same cookies (sign-in), whichever one a visitor reaches.
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    cluster = None
    if not args.backend and not env.get("DASK_SCHEDULER_ADDRESS"):
        print("Starting the training cluster and warming it up (about 10 s) …", flush=True)
        cluster = start_cluster()
        env["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address

    replicas = (
        []
        if args.backend
        else [Replica(n, args.port + n, env, logs, args.streamlit_args) for n in range(1, args.replicas + 1)]
    )
    proxy = None
    stopping = threading.Event()  # waited on, not slept through: SIGTERM stops at once, even mid-restart
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:  # whatever fails from here on, nothing started is left running
        for replica in replicas:
            replica.start()
        for replica in replicas:
            try:
                wait_healthy(replica.url, replica.process)
            except NotAnswering as error:
                raise SystemExit(f"{error} See {replica.log}.") from None

        config = logs / "haproxy.cfg"
        backends = args.backend or [f"127.0.0.1:{r.port}" for r in replicas]
        config.write_text(proxy_config(backends, f"{args.bind}:{args.port}"))
        check_config(config)
        proxy = subprocess.Popen(
            [proxy_binary, "-W", "-db", "-f", str(config)],
            stdout=open(logs / "haproxy.log", "a"),
            stderr=subprocess.STDOUT,
            preexec_fn=ends_with_us(),
        )
        print(
            f"Serving http://{'localhost' if args.bind == '0.0.0.0' else args.bind}:{args.port} with "
            f"{len(backends)} replica(s); logs in {logs}. Ctrl-C stops.",
            flush=True,
        )
        while not stopping.is_set():
            if proxy.poll() is not None:
                print(f"HAProxy exited with status {proxy.returncode}; see {logs / 'haproxy.log'}.", file=sys.stderr)
                return 1
            for replica in replicas:
                if replica.process.poll() is not None:
                    replica.restarts += 1
                    print(
                        f"Replica {replica.number} exited ({replica.process.returncode}); starting it again.",
                        flush=True,
                    )
                    if stopping.wait(RESTART_DELAY_S):
                        break
                    replica.start()
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if proxy is not None:
            proxy.terminate()
        for replica in replicas:
            replica.stop()
        if cluster is not None:
            from model.jobs.cluster import stop

            stop(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
