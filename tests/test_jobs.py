"""Training jobs on a Dask cluster: progress, Stop, the queue's rules, a lost visitor, a killed worker."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from model.config import SIDEBAR_DEFAULTS, TrainConfig
from model.jobs.service import WORKER_LOST, FineTuneSpec, JobService, Kind, QueueRefused, TrainSpec
from model.jobs.tasks import visitor_waiting, warm_up

pytestmark = pytest.mark.slow  # they train on the tiny Dask cluster

CONFIG = TrainConfig(hidden=(16,), epochs=1, batch_size=64)
ROOT = Path(__file__).resolve().parent.parent


def wait(job, timeout=120, until=lambda job: job.finished):
    """Poll as the page does (touching the job) until `until(job)`; fail if it does not come in time."""
    deadline = time.time() + timeout
    while not until(job) and time.time() < deadline:
        job.touch()
        time.sleep(0.1)
    assert until(job), f"the job did not get there in time ({job.state}: {job.status})"
    return job


def wait_for_progress(job, timeout=60):
    return wait(job, timeout, until=lambda job: bool(job.curve))


def test_a_job_trains_on_the_worker_and_reports_progress(training_cluster):
    queue = JobService()
    job = wait(queue.submit("visitor-a", Kind.TRAIN, TrainSpec(CONFIG, "python train.py")))
    assert job.state == "done", job.error
    assert job.result.net.hidden == (16,)
    assert job.result.card.test.count == 500, "the worker read its own (tiny) MNIST"
    assert job.curve and job.curve[-1].split == "validation", "progress came back from the worker"
    assert job.fraction == 1.0
    assert job.ended.is_set(), "the page's last refresh waits on this for the network"
    assert job.charted == job.curve, "the finished run's charts show the whole curve"


def test_stop_stops_a_running_job(training_cluster):
    queue = JobService()
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    job = queue.submit("visitor-b", Kind.TRAIN, TrainSpec(long, ""))
    wait_for_progress(job)
    job.stop()
    wait(job, timeout=60)
    assert job.state == "stopped"
    assert job.curve[-1].epoch < 50
    assert job.fraction < 1.0, "its progress bar shows where it stopped, not a finished run"


def test_one_job_per_visitor_and_a_cap_on_waiting(training_cluster):
    queue = JobService(max_waiting=2)
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    first = queue.submit("visitor-c", Kind.TRAIN, TrainSpec(long, ""))
    deadline = time.time() + 60
    while first.state != "running" and time.time() < deadline:
        time.sleep(0.1)
    with pytest.raises(QueueRefused, match="already have a run"):
        queue.submit("visitor-c", Kind.TRAIN, TrainSpec(CONFIG, ""))
    second = queue.submit("visitor-d", Kind.TRAIN, TrainSpec(CONFIG, ""))
    third = queue.submit("visitor-e", Kind.TRAIN, TrainSpec(CONFIG, ""))
    with pytest.raises(QueueRefused, match="queue is full"):
        queue.submit("visitor-f", Kind.TRAIN, TrainSpec(CONFIG, ""))
    assert third.ahead > second.ahead >= 1, "each knows how many runs are ahead"
    assert "ahead of yours" in third.status
    for job in (first, second, third):
        job.stop()
    for job in (first, second, third):
        wait(job, timeout=60)


def test_a_vanished_visitors_job_is_cancelled(training_cluster):
    queue = JobService(abandon_after_s=2)
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    job = queue.submit("visitor-g", Kind.TRAIN, TrainSpec(long, ""))
    deadline = time.time() + 60
    while not job.finished and time.time() < deadline:
        time.sleep(0.2)  # nobody touches it: the page was closed
    assert job.state == "stopped"


def test_a_fine_tune_gives_a_network_with_its_report(training_cluster, tiny_mnist):
    queue = JobService()
    trained = wait(queue.submit("visitor-h", Kind.TRAIN, TrainSpec(CONFIG, ""))).result
    (x, y), _ = tiny_mnist
    samples = (x[:20], y[:20], [f"20260101T000000{i:06d}-00000000{i:02d}" for i in range(20)])
    tuned = wait(queue.submit("visitor-h", Kind.FINE_TUNE, FineTuneSpec(trained.named("Trained #1"), samples)))
    assert tuned.state == "done", tuned.error
    assert tuned.result.card.fine_tune["trained_on"] + tuned.result.card.fine_tune["held_out"] == 20
    assert tuned.result.card.fine_tune["from"] == "Trained #1"


def test_a_job_takes_only_its_kinds_spec(training_cluster):
    with pytest.raises(TypeError, match="takes a FineTuneSpec"):
        JobService().submit("visitor-x", Kind.FINE_TUNE, TrainSpec(CONFIG, ""))


def test_a_run_that_reaches_its_time_limit_is_stopped_and_says_so(training_cluster):
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    job = wait(JobService().submit("visitor-y", Kind.TRAIN, TrainSpec(long, "", limit_s=2)), timeout=120)
    assert job.state == "stopped" and "time limit" in job.error
    assert job.result.card.other["stopped"] == job.error, "the network's card says so too"


def test_a_killed_worker_gives_a_sentence_and_the_next_job_works(training_cluster):
    queue = JobService()
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    job = queue.submit("visitor-i", Kind.TRAIN, TrainSpec(long, ""))
    wait_for_progress(job)
    pids = training_cluster.run(os.getpid)
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    wait(job, timeout=60)
    assert job.state == "failed" and job.error == WORKER_LOST
    training_cluster.wait_for_workers(1, timeout=60)  # the nanny starts a new one
    after = wait(queue.submit("visitor-i", Kind.TRAIN, TrainSpec(CONFIG, "")), timeout=120)
    assert after.state == "done", after.error


def test_server_side_modules_do_not_import_tensorflow():
    import subprocess

    code = (
        "import sys, model.jobs.service, model.jobs.cluster, model.jobs.tasks, "
        "model.store.defaults, model.store.network_file, model.store.samples, model.settings; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_py_runs_on_the_cluster_named_by_dask_scheduler_address(training_cluster, tmp_path):
    import subprocess

    from model.store.network_file import read_network_file

    out = tmp_path / "net.keras"
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": training_cluster.scheduler.address}
    env.pop("MNIST_PATH", None)  # this side needs no MNIST: the worker reads its own
    run = subprocess.run(
        [sys.executable, "train.py", "--hidden", "12", "--epochs", "1", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "on the cluster at tcp://" in run.stdout and "epoch   1/1" in run.stdout
    loaded = read_network_file(out)
    assert loaded.net.hidden == (12,)
    assert loaded.card.test.count == 500, "trained on the worker's (tiny) MNIST"


def test_an_unreachable_scheduler_is_one_sentence(tmp_path):
    import subprocess

    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:9"}  # nothing listens there
    run = subprocess.run(
        [sys.executable, "train.py", "--hidden", "12", "--epochs", "1", "--out", str(tmp_path / "x.keras")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("train.py: error: Training is unavailable")
    assert not (tmp_path / "x.keras").exists()


def test_progress_is_sent_at_most_every_quarter_second_and_at_every_epochs_end():
    from model.jobs.tasks import _Reporter
    from model.progress import Progress

    sent = []
    reporter = _Reporter(None, None, limit_s=60)
    reporter.queue = type("Recorder", (), {"put": lambda self, p: sent.append(p), "close": lambda self: None})()
    for batch in range(1, 101):  # a hundred steps in far less than a quarter second
        reporter.progress(Progress(1, 2, batch, 100))
    reporter.progress(Progress(1, 2, 100, 100, epoch_done=True))
    assert [p.batch for p in sent] == [1, 100] and sent[-1].epoch_done


def compiled_hidden_sizes() -> list[tuple[int, ...]]:
    """On a worker: the hidden sizes of the compiled networks it keeps for its next runs."""
    import json

    from model.training import speed

    return [
        tuple(layer["config"]["units"] for layer in json.loads(key)["layers"] if layer["class_name"] == "Dense")[:-1]
        for key in speed._compiled
    ]


def test_warm_up_leaves_the_sidebars_default_network_compiled_on_the_worker(training_cluster):
    assert training_cluster.submit(warm_up, pure=False).result(timeout=120) == "warm"
    kept = training_cluster.run(compiled_hidden_sizes)
    assert kept and all(SIDEBAR_DEFAULTS.hidden in sizes for sizes in kept.values()), kept


def test_runs_start_in_the_order_visitors_asked_not_the_order_they_reached_the_queue(training_cluster):
    queue = JobService()
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    blocker = queue.submit("visitor-h", Kind.TRAIN, TrainSpec(long, ""), address="198.51.100.1")
    wait_for_progress(blocker)
    now = time.time()
    # Three visitors from three addresses: an address's second run would wait behind every first turn.
    later = queue.submit("visitor-i", Kind.TRAIN, TrainSpec(CONFIG, ""), asked=now, address="198.51.100.2")
    earlier = queue.submit("visitor-j", Kind.TRAIN, TrainSpec(CONFIG, ""), asked=now - 1, address="198.51.100.3")
    assert (earlier.ahead, later.ahead) == (1, 2)
    time.sleep(1)  # time enough for Dask to send a run ahead to the busy worker, if it did
    blocker.stop()
    left_the_line: dict[str, float] = {}
    deadline = time.time() + 120
    while len(left_the_line) < 2 and time.time() < deadline:
        for name, job in (("earlier", earlier), ("later", later)):
            job.touch()
            if job.state != "waiting" and name not in left_the_line:
                left_the_line[name] = time.monotonic()
        time.sleep(0.02)
    assert left_the_line["earlier"] < left_the_line["later"], left_the_line
    for job in (blocker, earlier, later):
        wait(job)
    assert earlier.state == later.state == "done"


def training_thread_policy() -> tuple[int, int]:
    """On a worker, in its task thread: (the scheduling policy training runs at, TensorFlow's thread count)."""
    import threading

    from model.jobs.tasks import lower_priority

    lower_priority()
    return os.sched_getscheduler(threading.get_native_id()), int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))


def test_training_runs_on_every_core_at_the_idle_priority(training_cluster):
    policy, threads = training_cluster.submit(training_thread_policy, pure=False).result(timeout=60)
    assert policy == os.SCHED_IDLE, "training must yield the cores to the page's strokes"
    assert threads == (os.cpu_count() or 1), "and use all of them when the page is quiet"


def test_a_server_killed_with_sigkill_leaves_no_scheduler_or_worker_behind(tmp_path):
    """The local cluster's processes end with their server (model.jobs.lifeline), however it ends."""
    import subprocess

    script = tmp_path / "server.py"
    script.write_text(
        "import os, time\n"
        "from distributed import Client\n"
        "from model.jobs.cluster import local_cluster\n"
        "client = Client(local_cluster(n_workers=1), set_as_default=False)\n"
        "print(client.submit(os.getpid, pure=False).result(), flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    worker_pid = int(server.stdout.readline())
    cluster = [
        int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    ]
    assert len(cluster) == 2, "a scheduler and a nanny, children of the server"
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    deadline = time.time() + 30
    alive = cluster + [worker_pid]
    while alive and time.time() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
        time.sleep(0.2)
    assert not alive, f"still running after the server's kill -9: {alive}"


def test_ctrl_c_ends_a_server_and_its_cluster_at_once_and_quietly(tmp_path):
    """Ctrl-C reaches the whole process group, the cluster's processes too: the server must not then try
    for 30 s to reach a scheduler that is gone (it took 40 s and printed five tracebacks)."""
    import subprocess

    script = tmp_path / "server.py"
    script.write_text(
        "import os, signal, time\n"
        "from model.jobs.cluster import get_client\n"
        # As in a terminal: a test runner started in the background may hand its children SIGINT ignored.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "try:\n"
        "    print(get_client().submit(os.getpid, pure=False).result(), flush=True)\n"
        "    time.sleep(600)\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    server = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    worker_pid = int(server.stdout.readline())
    time.sleep(2)  # a cluster up for a moment (Dask's processes print their own tracebacks if stopped starting)
    asked = time.monotonic()
    os.killpg(server.pid, signal.SIGINT)
    _, errors = server.communicate(timeout=60)
    took = time.monotonic() - asked
    assert took < 5, f"Ctrl-C took {took:.0f} s to end the server"
    assert "distributed.client - ERROR" not in errors, errors[-3000:]
    assert not Path(f"/proc/{worker_pid}").exists() or "Z" in _state(worker_pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_the_warm_up_sees_a_visitors_run_on_the_scheduler(training_cluster):
    """`visitor_waiting` is what stops a warm-up that a visitor's run would otherwise wait for."""
    queue = JobService()
    assert not visitor_waiting(training_cluster)
    job = queue.submit("visitor-running", Kind.TRAIN, TrainSpec(TrainConfig(hidden=(16,), epochs=50, batch_size=8), ""))
    wait_for_progress(job)
    assert visitor_waiting(training_cluster), "a visitor's run is there"
    job.stop()
    wait(job)
    deadline = time.time() + 10  # the scheduler forgets it a moment after its result is collected
    while visitor_waiting(training_cluster) and time.time() < deadline:
        time.sleep(0.05)
    assert not visitor_waiting(training_cluster), "nothing is there once it is done"


def test_the_one_dask_internal_used_still_says_what_the_line_needs(training_cluster):
    """`scheduler_line` reads the scheduler's `tasks` and each task's key, state and priority (Dask's internals,
    not its promise): a running job shows as "processing", one behind it as waiting, with the priority it was
    given first in Dask's priority tuple. If a Dask upgrade changes these, this fails before the queue does."""
    from model.jobs.cluster import WAITING_STATES, scheduler_line
    from model.jobs.service import _order

    queue = JobService()
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    running = queue.submit("visitor-p", Kind.TRAIN, TrainSpec(long, ""))
    wait_for_progress(running)
    waiting = queue.submit("visitor-q", Kind.TRAIN, TrainSpec(CONFIG, ""))
    deadline = time.time() + 30
    while True:  # the client sends a submitted task to the scheduler in the background
        line = {key: (state, priority) for key, state, priority in training_cluster.run_on_scheduler(scheduler_line)}
        if waiting.key in line or time.time() > deadline:
            break
        time.sleep(0.1)
    assert line[running.key][0] == "processing"
    assert line[waiting.key][0] in WAITING_STATES
    assert line[waiting.key][1][0] == pytest.approx(-_order(waiting)), "Dask runs the smallest tuple first"
    for job in (running, waiting):
        job.stop()
    for job in (running, waiting):
        wait(job)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A certificate authority of the test's own and one certificate it signs, for 127.0.0.1 (openssl)."""
    import subprocess

    ca_key, ca, key, request, cert = (folder / n for n in ("ca.key", "ca.pem", "node.key", "node.csr", "node.pem"))
    run = lambda *args: subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        ca_key,
        "-out",
        ca,
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request)
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n")
    run("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1", "-out", cert,
        "-extfile", extensions)  # fmt: skip
    return {"ca": ca, "cert": cert, "key": key}


def test_training_on_a_cluster_over_tls_and_nothing_without_its_certificates(tmp_path, tiny_mnist_path):
    """docs/cluster.md's steps: a scheduler and a worker that speak only TLS, with certificates of one's own."""
    import socket
    import subprocess

    from testkit.chromium import free_port

    tls = make_certificates(tmp_path)
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    flags = ["--tls-ca-file", tls["ca"], "--tls-cert", tls["cert"], "--tls-key", tls["key"]]
    env = {**os.environ, "MNIST_PATH": str(tiny_mnist_path), "PYTHONPATH": str(ROOT)}
    env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
    dask = str(Path(sys.executable).with_name("dask"))
    listen = ["--port", str(port), "--host", "127.0.0.1", "--protocol", "tls", "--no-dashboard"]
    scheduler = subprocess.Popen([dask, "scheduler", *listen, *map(str, flags)], env=env, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard", *map(str, flags)],
                                  env=env, stderr=subprocess.DEVNULL)  # fmt: skip
        app = {**env, "DASK_SCHEDULER_ADDRESS": address}
        app |= {
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(tls["ca"]),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(tls["cert"]),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(tls["key"]),
        }
        out = tmp_path / "net.keras"
        command = [sys.executable, "train.py", "--hidden", "12", "--epochs", "1", "--out", str(out)]
        trained = subprocess.run(command, cwd=ROOT, env=app, capture_output=True, text=True, timeout=300)
        assert trained.returncode == 0, trained.stderr
        assert f"on the cluster at {address}" in trained.stdout and out.is_file()

        stranger = {k: v for k, v in app.items() if "__TLS__" not in k}  # no certificate: no way in
        refused = subprocess.run(command, cwd=ROOT, env=stranger, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines()[-1] == (
            "train.py: error: Training is unavailable: the training cluster could not be reached or started. "
            "Drawing works as before."
        )
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


@pytest.mark.parametrize(
    ("asked", "listens"),
    [(None, None), (":8787", "127.0.0.1:8787"), ("8787", "127.0.0.1:8787"), ("0.0.0.0:8787", "0.0.0.0:8787")],
)
def test_the_dashboard_listens_on_this_machine_alone_unless_asked(monkeypatch, asked, listens):
    from model.jobs.cluster import dashboard_address

    if asked is None:
        monkeypatch.delenv("DASK_DASHBOARD_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DASK_DASHBOARD_ADDRESS", asked)
    assert dashboard_address() == listens


def test_a_workers_exception_reaches_the_log_not_the_visitor(caplog):
    from model.jobs.service import FAILED, describe_failure

    said = describe_failure(RuntimeError("/srv/secret/path/mnist.npz: permission denied for user app"))
    assert said == FAILED and "/srv" not in said
    assert "/srv/secret/path" in caplog.text


def test_an_address_gets_its_share_of_the_queue_and_waits_behind_other_addresses(training_cluster):
    """One client with many pages: 13 pages once locked everyone out of the queue (12 places, one each)."""
    from model.settings import RUNS_PER_ADDRESS

    queue = JobService(max_waiting=RUNS_PER_ADDRESS + 5)
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    griefer = []
    for n in range(RUNS_PER_ADDRESS):
        griefer.append(queue.submit(f"griefer-page-{n}", Kind.TRAIN, TrainSpec(long, ""), address="203.0.113.9"))
    with pytest.raises(QueueRefused, match=f"already has {RUNS_PER_ADDRESS} runs"):
        queue.submit("griefer-page-more", Kind.TRAIN, TrainSpec(CONFIG, ""), address="203.0.113.9")
    honest = queue.submit("student", Kind.TRAIN, TrainSpec(CONFIG, ""), address="198.51.100.1")
    for job in griefer:
        job.touch()
    wait(honest, until=lambda job: job.ahead is not None)
    assert honest.ahead <= 2, f"the honest visitor's first run waits only for the griefer's first: {honest.ahead}"
    for job in (*griefer, honest):
        job.stop()
    for job in (*griefer, honest):
        wait(job, timeout=120)


def test_a_collection_has_one_run_at_a_time_whichever_page_asks(training_cluster):
    queue = JobService()
    long = TrainConfig(hidden=(16,), epochs=50, batch_size=8)
    first = queue.submit("page-1", Kind.TRAIN, TrainSpec(long, ""), collection="visitors/abc")
    with pytest.raises(QueueRefused, match="in another page of yours"):
        queue.submit("page-2", Kind.TRAIN, TrainSpec(CONFIG, ""), collection="visitors/abc")
    first.stop()
    wait(first)
