"""Train a network from the sidebar and watch it learn: the form, the job's progress and curves, the result.

The retrain path, top to bottom: the form's Train (`training_form`) →
`start_training` checks the values and `submit`s a `Kind.TRAIN` job to
the server's `JobService` (`model.jobs.service`) → a worker runs
`model.jobs.tasks.train_task` → `fit_network` (`model.training.ann`) →
the job's result, a `Network`, comes back → `job_status` shows its
progress until then, and `collect` adds the network to this visitor's list
(`ui.session.add_network`).
"""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from model.config import APP_LIMITS, MAX_LAYER_TEXT, OPTIONS, SIDEBAR_DEFAULTS, Option, parse_layer_sizes
from model.jobs.cluster import ClusterUnavailable
from model.jobs.service import Job, Kind, QueueRefused, TrainSpec
from model.settings import MAX_RUN_SECONDS
from ui import keys
from ui.access import client_address, collection_name, visitor_id
from ui.session import add_network, job_running, job_service, mnist_problem

# How often a waiting or running job's progress is shown: each refresh costs the browser and the server CPU
# that a local training, on the same cores, does not get.
REFRESH_S = 1.0
# A waiting job's place changes seldom; a class's forty waiting pages refreshed every second cost the server
# more than their visitors' drawing.
WAITING_REFRESH_S = 3.0
# The refresh before a run's end waits this much longer than the time it has left, for its network (scoring
# the test set, sending it back), rather than leaving it to the next refresh.
LAST_MOMENT_S = 0.3


def sidebar_title() -> None:
    """The sidebar's title, written before the canvas so that the sidebar is there from the page's first moment.

    The rest of the sidebar comes after the canvas (a visitor can draw while it loads), but the sidebar's
    arrival narrows the main area: a canvas drawn before it would jump sideways under the pen.
    """
    st.sidebar.header("Train a network")


def training_form() -> None:
    """The training settings and Train; while a run goes on, its progress comes first and the form folds away."""
    problem = mnist_problem()
    if problem:
        st.warning(problem)
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
            help=f"Runs on the training cluster, in turn with other visitors' runs; at most "
            f"{MAX_RUN_SECONDS // 60} minutes each.",
        )
    if submitted:
        start_training(values)
        st.session_state.pop(keys.ASKED, None)  # taken by the queue, or the form's values were refused
    if not running:
        job_status()


def option_widget(option: Option):
    """The sidebar's widget for a training option (model.config.OPTIONS), starting at the sidebar's default."""
    default = getattr(SIDEBAR_DEFAULTS, option.field)
    text = option.help[0].upper() + option.help[1:] + "."
    if isinstance(default, tuple):
        limits = f" Comma-separated: 1 to {APP_LIMITS.max_layers} layers of 1 to {APP_LIMITS.max_units}."
        return st.text_input(option.label, ", ".join(map(str, default)), max_chars=MAX_LAYER_TEXT, help=text + limits)
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
    if submit(Kind.TRAIN, TrainSpec(config, config.command())):
        st.rerun()  # the progress goes to the top of the sidebar, the form folds away


def note_asked() -> None:
    """A button's callback, so run first in the rerun its click starts: when this visitor asked for a run.

    Visitors who click at nearly the same moment reach `submit` in any
    order (each page runs its script first); the queue goes by this time.
    """
    st.session_state[keys.ASKED] = time.time()


def submit(kind: Kind, spec) -> bool:
    """Queue this visitor's job on the training cluster; say why not if it cannot be (in the sidebar)."""
    asked = st.session_state.pop(keys.ASKED, None)
    try:
        st.session_state[keys.JOB] = job_service().submit(
            visitor_id(), kind, spec, asked=asked, address=client_address(), collection=collection_name()
        )
        return True
    except (QueueRefused, ClusterUnavailable) as error:
        st.session_state[keys.JOB_REFUSED] = str(error)
        return False


def job_status() -> None:
    """Progress and live curves of this visitor's job, refreshed while it waits or runs."""
    refused = st.session_state.pop(keys.JOB_REFUSED, None)
    if refused:
        st.error(refused)
    job: Job | None = st.session_state.get(keys.JOB)
    if job is None:
        return

    every = None if job.finished else WAITING_REFRESH_S if job.state == "waiting" else REFRESH_S

    @st.fragment(run_every=every)
    def live():
        from ui.charts import curves_spec

        job.touch()  # the visitor is still here: a job nobody looks at is stopped
        left = job.seconds_left()
        if left is not None and left < REFRESH_S:  # it ends before the next refresh: show its network at once
            job.ended.wait(left + LAST_MOMENT_S)
        if every == WAITING_REFRESH_S and job.state == "running":
            st.rerun()  # it started: the whole page again, to refresh at a running job's pace
        st.progress(job.fraction, text=f"{job.name.capitalize()}: {job.status}")
        if not job.finished:
            st.button(f"Stop {job.name}", on_click=job.stop)
        if job.charted:  # the same between its redraws (`CHART_EVERY_S`), not at every refresh
            st.vega_lite_chart(spec=curves_spec(job.charted, "loss"), width="stretch")
            st.vega_lite_chart(spec=curves_spec(job.charted, "accuracy"), width="stretch")
        if job.finished and st.session_state.get(keys.COLLECTED) is not job:
            st.session_state[keys.COLLECTED] = job
            collect(job)
            st.rerun()  # the whole page: new network in the list, and active

    live()
    if job.state == "failed":
        st.error(f"The {job.name} failed: {job.error}")
    elif job.state == "stopped":
        st.info(f"The {job.name} was stopped" + (f": {job.error}" if job.error else "") + "; no network was added.")


NAMES = {Kind.TRAIN: "Trained", Kind.FINE_TUNE: "Fine-tuned", Kind.SHARED: "Class"}  # "Trained #2", …


def collect(job: Job) -> None:
    """What a finished job gives this visitor: a network in their list, made active."""
    if job.state == "done":
        add_network(job.result, NAMES[job.kind])
