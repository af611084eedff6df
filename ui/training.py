"""The sidebar: train a network, watch it learn, pick which network reads your drawings, save it."""

from __future__ import annotations

import streamlit as st

from model.config import APP_LIMITS, SIDEBAR_DEFAULTS, TrainConfig, parse_layer_sizes
from model.jobs.cluster import ClusterUnavailable
from model.jobs.queue import QueueRefused, TrainingJob
from model.jobs.tasks import MAX_RUN_SECONDS, keras_file_task, train_task
from model.reading.network import ModelFileError
from model.store.card import training_summary
from model.store.defaults import KEEP, default_path, history, restore, save_default
from ui.access import (
    check_password,
    is_owner,
    password_tries_left,
    secret,
    sign_in_available,
    signed_in_email,
    visitor_id,
)
from ui.session import (
    active_network,
    add_network,
    job_queue,
    mnist_problem,
    session_networks,
    warm_cluster,
)


def sidebar() -> None:
    warm_cluster()
    with st.sidebar:
        st.header("Train a network")
        problem = mnist_problem()
        if problem:
            st.warning(problem)
        d = SIDEBAR_DEFAULTS
        with st.form("train"):
            layers_text = st.text_input(
                "Hidden layers",
                ", ".join(map(str, d.hidden)),
                help=f"Units per hidden layer, comma-separated: 1 to "
                f"{APP_LIMITS.max_layers} layers of 1 to {APP_LIMITS.max_units}.",
            )
            epochs = st.number_input("Epochs", 1, APP_LIMITS.max_epochs, d.epochs)
            batch_size = st.number_input("Batch size", 1, APP_LIMITS.max_batch_size, d.batch_size)
            learning_rate = st.number_input("Learning rate", 0.00001, 1.0, d.learning_rate, step=0.0005, format="%.5f")
            dropout = st.slider("Dropout", 0.0, 0.8, d.dropout, 0.05)
            seed = st.number_input("Random seed", 0, 2**31 - 1, d.seed)
            augment = st.checkbox(
                "Augment",
                value=d.augment,
                help="Distort every batch afresh (rotation, slant, size, shift, elastic "
                "wobble, stroke thickness): reads drawings better, takes longer per epoch.",
            )
            submitted = st.form_submit_button(
                "Train",
                type="primary",
                disabled=busy() or bool(problem),
                width="stretch",
                help=f"Runs on the training cluster, in turn with "
                f"other visitors' runs; at most {MAX_RUN_SECONDS // 60} minutes each.",
            )
        if submitted:
            start_training(
                layers_text, int(epochs), int(batch_size), float(learning_rate), float(dropout), int(seed), augment
            )
        job_status()
        networks_panel()
        owner_panel()


def busy() -> bool:
    job = st.session_state.get("job")
    return job is not None and not job.finished


def start_training(layers_text, epochs, batch_size, learning_rate, dropout, seed, augment) -> None:
    try:
        hidden = parse_layer_sizes(layers_text)
    except ValueError as error:
        st.error(str(error))
        return
    config = TrainConfig(
        hidden=hidden,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        dropout=dropout,
        seed=seed,
        augment=augment,
    )
    problems = config.problems(APP_LIMITS)
    if problems:
        for problem in problems:
            st.error(problem)
        return
    submit("training", train_task, config, config.command())


def submit(kind: str, task, *args, priority: int = 0) -> bool:
    """Queue this visitor's job on the training cluster; say why not if it cannot be (in the sidebar)."""
    try:
        st.session_state.job = job_queue().submit(visitor_id(), kind, task, *args, priority=priority)
        return True
    except (QueueRefused, ClusterUnavailable) as error:
        st.session_state.job_refused = str(error)
        return False


def job_status() -> None:
    """Progress and live curves of this visitor's job, refreshed while it waits or runs."""
    refused = st.session_state.pop("job_refused", None)
    if refused:
        st.error(refused)
    job: TrainingJob | None = st.session_state.get("job")
    if job is None:
        return

    @st.fragment(run_every=None if job.finished else 0.5)
    def live():
        from ui.charts import curves_chart

        job.touch()  # the visitor is still here: a job nobody looks at is stopped
        st.progress(job.fraction, text=f"{job.kind.capitalize()}: {job.status}")
        if not job.finished:
            st.button(f"Stop {job.kind}", on_click=job.stop)
        if job.curve:
            st.altair_chart(curves_chart(job.curve, "loss"), width="stretch")
            st.altair_chart(curves_chart(job.curve, "accuracy"), width="stretch")
        if job.finished and st.session_state.get("collected") is not job:
            st.session_state.collected = job
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
        key="active",
        format_func=lambda n: networks[n].label,
        help="The default and every network trained or fine-tuned in this session. Each visitor has their own list.",
    )
    network = active_network()
    card = network.card
    test = card.get("test", {})
    a, b = st.columns(2)
    a.metric("Test accuracy", f"{test['accuracy']:.2%}" if "accuracy" in test else "–")
    b.metric("Parameters", compact(network.net.parameter_count), help=f"{network.net.parameter_count:,}")
    st.caption(training_summary(card))
    if "confusion" in test:
        from ui.charts import confusion_chart

        with st.expander("Confusion matrix (MNIST test set)"):
            st.altair_chart(confusion_chart(test["confusion"]), width="stretch")
    if card.get("command"):
        st.caption(f"Repeat with `{card['command']}`")
    dropped = st.session_state.pop("dropped_networks", None)
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
    message = st.session_state.pop("save_message", None)
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
        st.session_state.save_message = ("error", "Only the owner of this app can change its default network.")
        return
    if submit("save", keras_file_task, network.net, network.card, priority=10):
        st.session_state.job.result_for = (network.name, network.card)


def write_default(name: str, card: dict) -> None:
    job = st.session_state.job
    if not is_owner():
        st.session_state.save_message = ("error", "Only the owner of this app can change its default network.")
        return
    try:
        save_default(default_path(), job.result, card)
    except (ModelFileError, OSError) as error:
        st.session_state.save_message = ("error", f"Could not save {name}: {error}. The previous default is unchanged.")
        return
    st.session_state.save_message = ("success", f"Saved {name} as the default network.")


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
                        if password_tries_left() <= 0:
                            st.error("Too many tries: wait a minute.")
                        elif check_password(typed):
                            st.rerun()
                        else:
                            st.error("That is not the admin password.")
        return
    detail = st.session_state.get("model_error_detail")
    if detail:
        st.warning(f"For the owner: {detail}")
    entries = history(default_path())
    if not entries:
        return
    with st.expander("Owner: earlier defaults"):
        if not entries:
            st.caption("No earlier default is kept yet.")
            return
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
        st.session_state.save_message = ("error", "Only the owner of this app can change its default network.")
        return
    try:
        restore(default_path(), name)
    except (ModelFileError, OSError) as error:
        st.session_state.save_message = ("error", f"Could not roll back: {error}")
        return
    st.session_state.save_message = (
        "success",
        "Rolled back: new visitors get that network. Yours changes when you reload the page.",
    )
