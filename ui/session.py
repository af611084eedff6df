"""What the page keeps: the shared resources (once per server process) and each visitor's networks.

The default network and MNIST are loaded once per process and shared by all
visitors (`st.cache_resource`); everything a visitor changes (the networks
they trained, which one is active, their training run) lives in their own
`st.session_state`, so one visitor's training never changes another's page.
What a session holds is bounded: at most `MAX_NETWORKS` networks and
`MAX_NETWORKS_MB` of their weights (`model.settings`), the oldest dropped
first (and named).
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import streamlit as st

from model.jobs.cluster import scheduler_address
from model.jobs.service import WARM_UP_PRIORITY, JobService
from model.reading.network import ModelFileError
from model.settings import MAX_NETWORKS, MAX_NETWORKS_MB, MNIST_PATH
from model.store.data import MnistUnavailable, keras_cache_file, load_mnist, mnist_source, provenance
from model.store.db import StoreUnavailable, database_url, describe
from model.store.defaults import current_default, version
from model.store.folder_import import import_folders
from model.store.network import Network
from model.store.network_file import read_network_file, shipped_path
from ui import keys

TRAINED_PARAM = "trained"  # in the page's URL: how many networks this page's session has made
log = logging.getLogger("read-my-digit")


@st.cache_resource(show_spinner=False)
def housekeeping() -> dict:
    """Once per server process, before anyone saves: open the database and move the folder store into it.

    The database's schema is upgraded when it is first opened; samples kept
    in the folders of the format before the database are imported once,
    all or nothing (`model.store.folder_import`), and the log says how many.
    Raises `StoreUnavailable` when the database cannot be used: nothing is
    cached then, and the next call tries again.
    """
    report: dict = {"database": describe(database_url()), "imported": import_folders()}
    if report["imported"] and report["imported"]["samples"]:
        log.warning("Moved the folder store into the database: %s", report["imported"])
    return report


def open_database() -> None:
    """`housekeeping`, for the page's run: a database that cannot be used now is logged, and drawing goes on."""
    try:
        housekeeping()
    except StoreUnavailable as error:  # said in a sentence where samples are read or saved
        log.error("%s", error)


@st.cache_resource(show_spinner=False)
def freeze_what_is_loaded() -> int:
    """Once per server process, after its first full run: what is loaded by then leaves the collector's view.

    Python's full garbage collection walks every object it tracks, holding
    the GIL: with the page's libraries loaded (Altair, Dask, SQLAlchemy, …:
    about 150,000 objects) that is tens of milliseconds, a pause for every
    visitor's stroke whenever it comes. Modules and the network stay for the
    life of the process anyway; `gc.freeze` moves them out of the collections
    (a full one then takes a couple of milliseconds), and everything made later (a stroke's
    garbage) is collected as before.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@st.cache_resource(show_spinner="Loading the network …", max_entries=4)
def default_network(path: str, saved: int) -> tuple[Network, str | None]:
    """The default, read once per server process and again whenever the owner saves one on any replica
    (`saved`, `model.store.defaults.version`, changes), and why the current default was not used, if it
    was not (for the owner's eyes)."""
    try:
        network, problem = current_default(shipped=Path(path))
    except StoreUnavailable as error:  # the network shipped with the app needs no database
        network, problem = read_network_file(path, "Default"), f"{error} Using the network shipped with the app."
    if problem:
        log.warning("Default network: %s", problem)
    return network, problem


@st.cache_resource(show_spinner="Loading MNIST …")
def training_data(source: str) -> tuple[tuple, dict]:
    """MNIST from the file `source` and where it came from, once per process."""
    mnist = load_mnist(source)
    return mnist, provenance(source)


def server_mnist_file() -> Path | None:
    """The MNIST file this server may read: MNIST_PATH, or the copy Keras downloaded earlier.

    The server never downloads MNIST itself: the download imports TensorFlow
    and can take minutes, in the process every visitor's page runs in.
    """
    return mnist_source() or keras_cache_file()


def mnist() -> tuple[tuple, dict]:
    """MNIST for this page (raises `MnistUnavailable` with the fix in its message)."""
    source = server_mnist_file()
    if source is None or not source.is_file():
        raise MnistUnavailable(mnist_problem() or "MNIST is not available on this server.")
    return training_data(str(source))


@st.cache_resource(show_spinner=False)
def job_service() -> JobService:
    """The one queue of training jobs for every visitor of this server."""
    return JobService()


@st.cache_resource(show_spinner=False)
def warm_cluster() -> threading.Thread:
    """Start the local training cluster in the background when the first visitor arrives.

    Starting it at the first Train click would make that visitor wait for a
    scheduler, a worker, TensorFlow's import and the compiling of their
    network (`model.jobs.tasks.warm_up`, seconds) before their run
    begins; started now, while they draw, the worker is ready by the time
    most visitors press Train. The page never waits for it, nor does a run:
    the warm-up has the lowest priority.
    """

    def start():
        from distributed import fire_and_forget

        from model.jobs.cluster import ClusterUnavailable, get_client
        from model.jobs.tasks import warm_up

        try:
            fire_and_forget(get_client().submit(warm_up, pure=False, priority=WARM_UP_PRIORITY))
        except ClusterUnavailable as error:  # said again, in a sentence, when someone presses Train
            log.warning("%s", error)

    thread = threading.Thread(target=start, name="warm-cluster", daemon=True)
    if not scheduler_address():  # a remote cluster's workers are started (and warmed) by their owner
        thread.start()
    return thread


def mnist_problem() -> str | None:
    """Why training cannot find MNIST, found without loading anything (and naming no server path); None if it may.

    A local cluster's workers read the server's MNIST_PATH; a remote cluster's
    workers have their own, which only they can check.
    """
    if scheduler_address():
        return None
    source = mnist_source()
    if source is not None and not source.is_file():
        return f"Training needs MNIST, but {MNIST_PATH.name} points to a file that does not exist on this server."
    if source is None and keras_cache_file() is None:
        return (
            f"Training needs MNIST on this server: set {MNIST_PATH.name} to an mnist.npz "
            "(or run `python train.py` once with internet access to download it)."
        )
    return None


def session_networks() -> dict[str, Network]:
    if keys.NETWORKS not in st.session_state:
        st.session_state[keys.NETWORKS] = {}
        st.session_state[keys.MADE] = 0
        notice_lost_networks()
        path = shipped_path()
        try:
            try:
                saved = version()
            except StoreUnavailable as error:  # the shipped default still reads
                log.error("%s", error)
                saved = -1
            default, problem = default_network(str(path), saved)
            st.session_state[keys.MODEL_ERROR_DETAIL] = problem
            st.session_state[keys.NETWORKS][default.name] = default
            st.session_state[keys.ACTIVE] = default.name
        except ModelFileError as error:
            log.error("No default network: %s", error)
            st.session_state[keys.MODEL_ERROR] = "the default network could not be read on this server."
            st.session_state[keys.MODEL_ERROR_DETAIL] = str(error)  # shown to the owner only
            st.session_state[keys.ACTIVE] = None
    return st.session_state[keys.NETWORKS]


def notice_lost_networks() -> None:
    """A new session whose page had trained networks (the URL says how many) lost them: say so, once.

    A visitor's networks live in their server session. When the page
    reconnects to a new one (its replica was restarted or killed, and the
    proxy sent the page to another; or the visitor reloaded), they are gone,
    while the visitor's samples, in the database, are not.
    """
    made = st.query_params.get(TRAINED_PARAM)
    if made is None:
        return
    del st.query_params[TRAINED_PARAM]
    if made.isdigit() and 0 < int(made) <= 10_000:
        st.session_state[keys.LOST_NETWORKS] = int(made)


def add_network(network: Network, kind: str = "Trained") -> str:
    """Add a network to this visitor's list, named by its kind ("Trained #2"), make it active; return its name.

    The oldest networks made here (never the default) are dropped to stay
    within `MAX_NETWORKS` and `MAX_NETWORKS_MB`; the page says which.
    """
    networks = session_networks()
    st.session_state[keys.MADE] += 1
    st.query_params[TRAINED_PARAM] = str(st.session_state[keys.MADE])
    name = f"{kind} #{st.session_state[keys.MADE]}"
    networks[name] = network.named(name)
    dropped = []
    while len(networks) > MAX_NETWORKS or sum(n.nbytes for n in networks.values()) > MAX_NETWORKS_MB << 20:
        oldest = next((n for n in networks if n not in ("Default", name)), None)
        if oldest is None:
            break
        del networks[oldest]
        dropped.append(oldest)
    if dropped:
        st.session_state[keys.DROPPED_NETWORKS] = dropped
    st.session_state[keys.ACTIVE] = name
    return name


def job_running() -> bool:
    """Whether this visitor has a training, fine-tune or save waiting or running (one at a time)."""
    job = st.session_state.get(keys.JOB)
    return job is not None and not job.finished


def active_network() -> Network | None:
    return session_networks().get(st.session_state.get(keys.ACTIVE))


@st.cache_resource(show_spinner=False)
def second_opinion():
    """The convolutional network that gives a second opinion on shared samples' labels; None if it is missing."""
    from model.reading.cnn import NumpyCNN
    from model.store.network_file import SECOND_OPINION

    try:
        return NumpyCNN.load(SECOND_OPINION)
    except ModelFileError as error:
        log.warning("No second opinion on shared samples: %s", error)
        return None


def flags_for(pool) -> tuple[list[str | None], bool]:
    """Why each shared sample is flagged (`model.reading.flags`), by the current default and the second
    opinion; and whether there was a second opinion. Computed once per pool and default."""
    import hashlib

    try:
        saved = version()
    except StoreUnavailable:
        saved = -1
    default, _ = default_network(str(shipped_path()), saved)
    digest = hashlib.sha256("\n".join(pool.ids).encode()).hexdigest()
    return _flags(digest, saved, pool, default), second_opinion() is not None


@st.cache_resource(show_spinner="Reading the shared samples …", max_entries=2)
def _flags(pool_digest: str, default_version: int, _pool, _default: Network) -> list[str | None]:
    from model.reading.flags import flag_reasons

    images = _pool.images / 255.0
    second = second_opinion() or _default.net
    return flag_reasons(_pool.images, _pool.labels, _default.net.probabilities(images), second.probabilities(images))
