"""The sidebar: train a network, watch it learn, pick which network reads your drawings, save it."""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from model.config import APP_LIMITS, OPTIONS, SIDEBAR_DEFAULTS, Option, parse_layer_sizes
from model.jobs.cluster import ClusterUnavailable
from model.jobs.queue import QueueRefused, TrainingJob
from model.jobs.tasks import MAX_RUN_SECONDS, keras_file_task, train_task
from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard, training_summary
from model.store.db import StoreUnavailable
from model.store.defaults import default_path
from model.store.published import KEEP, earlier_defaults, publish
from model.store.published import roll_back as restore_default
from ui import keys
from ui.access import (
    TooManyTries,
    check_password,
    is_owner,
    secret,
    sign_in_available,
    signed_in_email,
    visitor_id,
)
from ui.session import (
    active_network,
    add_network,
    job_queue,
    job_running,
    mnist_problem,
    session_networks,
    warm_cluster,
)

OWNER_ONLY = "Only the owner of this app can change its default network."
# How often a waiting or running job's progress is shown. Each refresh costs the browser and the server CPU
# that a local training, on the same cores, does not get: at 0.5 s a 15-epoch retrain's page took about
# 300 ms of Chromium's CPU and 50 ms of the server's every second, at 1 s 180-210 and 40 (bench notes in
# BENCHMARKS.md, "Training on Dask").
REFRESH_S = 1.0
# The refresh before a run's end waits for its network (the time left, and this for scoring the test set,
# sending the network back and progress's own lag) rather than leaving it to the next refresh.
LAST_MOMENT_S = 0.3


def sidebar_title() -> None:
    """The sidebar's title, written before the canvas so that the sidebar is there from the page's first moment.

    The rest of the sidebar comes after the canvas (a visitor can draw while it loads), but the sidebar's
    arrival narrows the main area: a canvas drawn before it would jump sideways under the pen.
    """
    st.sidebar.header("Train a network")


def sidebar() -> None:
    """Everything in the sidebar below its title (`sidebar_title`, written first)."""
    warm_cluster()
    with st.sidebar:
        problem = mnist_problem()
        if problem:
            st.warning(problem)
        # While a run goes on, its progress and curves come first, where the eye is;
        # the form folds away below them.
        running = job_running()
        if running:
            job_status()
        with st.expander("Settings", expanded=not running), st.form("train"):
            values = {option.field: option_widget(option) for option in OPTIONS if option.on_page}
            submitted = st.form_submit_button(
                "Train",
                type="primary",
                on_click=note_asked,
                disabled=running or bool(problem),
                width="stretch",
                help=f"Runs on the training cluster, in turn with "
                f"other visitors' runs; at most {MAX_RUN_SECONDS // 60} minutes each.",
            )
        if submitted:
            start_training(values)
            st.session_state.pop(keys.ASKED, None)  # taken by the queue, or the form's values were refused
        if not running:
            job_status()
        networks_panel()
        owner_panel()


def option_widget(option: Option):
    """The sidebar's widget for a training option (model.config.OPTIONS), starting at the sidebar's default."""
    default = getattr(SIDEBAR_DEFAULTS, option.field)
    text = option.help[0].upper() + option.help[1:] + "."
    if isinstance(default, tuple):
        limits = f" Comma-separated: 1 to {APP_LIMITS.max_layers} layers of 1 to {APP_LIMITS.max_units}."
        return st.text_input(option.label, ", ".join(map(str, default)), help=text + limits)
    if isinstance(default, bool):
        return st.checkbox(option.label, value=default, help=text)
    low, high = option.bounds(APP_LIMITS)
    if isinstance(default, float) and option.step and high <= 1 and low == 0:
        return st.slider(option.label, float(low), float(high), default, option.step, help=text)
    if isinstance(default, float):
        return st.number_input(option.label, low, high, default, step=option.step, format="%.5f", help=text)
    return st.number_input(option.label, low, high, default, help=text)


def start_training(values: dict) -> None:
    """Check the form's values and queue the run, or say what to change."""
    try:
        hidden = parse_layer_sizes(values.pop("hidden"))
    except ValueError as error:
        st.error(str(error))
        return
    config = replace(SIDEBAR_DEFAULTS, hidden=hidden, **values)
    problems = config.problems(APP_LIMITS)
    if problems:
        for problem in problems:
            st.error(problem)
        return
    if submit("training", train_task, config, config.command()):
        st.rerun()  # the progress goes to the top of the sidebar, the form folds away


def note_asked() -> None:
    """A button's callback, so run first in the rerun its click starts: when this visitor asked for a run.

    Visitors who click at nearly the same moment reach `submit` in any
    order (each page runs its script first); the queue goes by this time.
    """
    st.session_state[keys.ASKED] = time.time()


def submit(kind: str, task, *args, priority: int = 0) -> bool:
    """Queue this visitor's job on the training cluster; say why not if it cannot be (in the sidebar)."""
    asked = st.session_state.pop(keys.ASKED, None)
    try:
        st.session_state[keys.JOB] = job_queue().submit(visitor_id(), kind, task, *args, priority=priority, asked=asked)
        return True
    except (QueueRefused, ClusterUnavailable) as error:
        st.session_state[keys.JOB_REFUSED] = str(error)
        return False


def job_status() -> None:
    """Progress and live curves of this visitor's job, refreshed while it waits or runs."""
    refused = st.session_state.pop(keys.JOB_REFUSED, None)
    if refused:
        st.error(refused)
    job: TrainingJob | None = st.session_state.get(keys.JOB)
    if job is None:
        return

    @st.fragment(run_every=None if job.finished else REFRESH_S)
    def live():
        from ui.charts import curves_spec

        job.touch()  # the visitor is still here: a job nobody looks at is stopped
        left = job.seconds_left()
        if left is not None and left < REFRESH_S:  # it ends before the next refresh: show its network at once
            job.ended.wait(left + LAST_MOMENT_S)
        st.progress(job.fraction, text=f"{job.kind.capitalize()}: {job.status}")
        if not job.finished:
            st.button(f"Stop {job.kind}", on_click=job.stop)
        if job.charted:  # the same between its redraws (`CHART_EVERY_S`), not at every refresh
            st.vega_lite_chart(spec=curves_spec(job.charted, "loss"), width="stretch")
            st.vega_lite_chart(spec=curves_spec(job.charted, "accuracy"), width="stretch")
        if job.finished and st.session_state.get(keys.COLLECTED) is not job:
            st.session_state[keys.COLLECTED] = job
            collect(job)
            st.rerun()  # the whole page: new network in the list, and active

    live()
    if job.state == "failed":
        st.error(f"The {job.kind} failed: {job.error}")
    elif job.state == "stopped":
        st.info(
            f"The {job.kind} was stopped"
            + (f": {job.error}" if job.error else "")
            + ("; no network was added." if job.kind != "save" else ".")
        )


def collect(job: TrainingJob) -> None:
    """What a finished job gives this visitor: a network in their list, or (a save) the new default."""
    if job.state != "done":
        return
    if job.kind == "save":
        write_default(*job.result_for)
    else:
        add_network(job.result.net, job.result.card, "Fine-tuned" if job.kind == "fine-tune" else "Trained")


def networks_panel() -> None:
    networks = session_networks()
    if not networks:
        return
    st.header("Networks")
    st.radio(
        "Draw against",
        list(networks),
        key=keys.ACTIVE,
        format_func=lambda n: networks[n].label,
        help="The default and every network trained or fine-tuned in this session. Each visitor has their own list.",
    )
    network = active_network()
    card = network.card
    a, b = st.columns(2)
    a.metric("Test accuracy", f"{card.accuracy:.2%}" if card.accuracy is not None else "–")
    b.metric("Parameters", compact(network.net.parameter_count), help=f"{network.net.parameter_count:,}")
    st.caption(training_summary(card))
    if card.test and card.test.confusion:
        from ui.charts import confusion_chart

        with st.expander("Confusion matrix (MNIST test set)"):
            st.altair_chart(confusion_chart(card.test.confusion), width="stretch")
    if card.command:
        st.caption(f"Repeat with `{card.command}`")
    lost = st.session_state.pop(keys.LOST_NETWORKS, None)
    if lost:
        st.warning(
            f"The {lost} network{'s' if lost > 1 else ''} you trained before this page reconnected "
            f"{'are' if lost > 1 else 'is'} gone: networks live only as long as your session on the server, "
            "and this page now has a new one (the server restarted, or another took over). "
            "Your saved samples are safe."
        )
    dropped = st.session_state.pop(keys.DROPPED_NETWORKS, None)
    if dropped:
        st.info(
            f"To keep within what one visitor may hold, {', '.join(dropped)} "
            f"{'was' if len(dropped) == 1 else 'were'} dropped from your list."
        )
    if network.name != "Default" and is_owner():
        st.button(
            "Save as default",
            on_click=save_as_default,
            args=(network.name,),
            help=f"Every new visitor will get this network. The current default is kept "
            f"(the last {KEEP}), and you can roll back below.",
        )
    message = st.session_state.pop(keys.SAVE_MESSAGE, None)
    if message:
        getattr(st, message[0])(message[1])


def compact(n: int) -> str:
    """952410 → "952k": fits the sidebar's half-width metric."""
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e4 else f"{n:,}"


def save_as_default(name: str) -> None:
    """Owner only, checked here again: a crafted message for a button never shown must not save.

    Making a `.keras` file needs Keras, so a worker makes it; the server
    writes it (`collect`) when the job is done.
    """
    network = session_networks().get(name)
    if not is_owner() or network is None or name == "Default":
        st.session_state[keys.SAVE_MESSAGE] = ("error", OWNER_ONLY)
        return
    if submit("save", keras_file_task, network.net, network.card, priority=10):
        st.session_state[keys.JOB].result_for = (network.name, network.card, network.net)


def write_default(name: str, card: ModelCard, net: NumpyNetwork) -> None:
    job = st.session_state[keys.JOB]
    if not is_owner():
        st.session_state[keys.SAVE_MESSAGE] = ("error", OWNER_ONLY)
        return
    try:
        publish(job.result, card, net, default_path())
    except (ModelFileError, StoreUnavailable) as error:
        sentence = f"Could not save {name}: {error}. The previous default is unchanged."
        st.session_state[keys.SAVE_MESSAGE] = ("error", sentence)
        return
    st.session_state[keys.SAVE_MESSAGE] = ("success", f"Saved {name} as the default network.")


def owner_panel() -> None:
    """Sign-in, the admin password, and rolling the default back, for the owner."""
    owner = is_owner()
    email = signed_in_email()
    if sign_in_available():
        if email:
            st.caption(f"Signed in as {email}.")
            st.button("Sign out", on_click=st.logout)
        else:
            st.button("Sign in", on_click=st.login, help="Keeps your samples with your account.")
    if not owner:
        if secret("admin_password"):
            with st.expander("Owner"):
                with st.form("owner"):
                    typed = st.text_input("Admin password", type="password")
                    if st.form_submit_button("Unlock"):
                        try:
                            if check_password(typed):
                                st.rerun()
                            st.error("That is not the admin password.")
                        except (TooManyTries, StoreUnavailable) as error:
                            st.error(str(error))
        return
    detail = st.session_state.get(keys.MODEL_ERROR_DETAIL)
    if detail:
        st.warning(f"For the owner: {detail}")
    try:
        entries = earlier_defaults()
    except StoreUnavailable as error:
        st.warning(f"For the owner: {error}")
        return
    if not entries:
        return
    with st.expander("Owner: earlier defaults"):
        labels = {e.name: f"saved {e.saved} ({e.name[-8:]})" for e in entries}
        choice = st.selectbox("Roll back to", list(labels), format_func=labels.get)
        st.button(
            "Roll back",
            on_click=roll_back,
            args=(choice,),
            help="Makes that network the default again; the current one is kept.",
        )


def roll_back(name: str) -> None:
    if not is_owner():
        st.session_state[keys.SAVE_MESSAGE] = ("error", OWNER_ONLY)
        return
    try:
        restore_default(name)
    except (ModelFileError, StoreUnavailable) as error:
        st.session_state[keys.SAVE_MESSAGE] = ("error", f"Could not roll back: {error}")
        return
    st.session_state[keys.SAVE_MESSAGE] = (
        "success",
        "Rolled back: new visitors get that network. Yours changes when you reload the page.",
    )
