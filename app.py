"""Draw a digit and watch a neural network read it; change the network and see what changes.

    streamlit run app.py

The page is wiring only: the ML lives in `model/` (shared with train.py) and
the charts in `ui/charts.py`. Drawing and predicting need no TensorFlow: the
network's weights are read into NumPy once per server process, so the page
is ready in a second and answers each stroke in about a millisecond.
TensorFlow is imported only when someone trains.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from model.card import architecture, read_card, training_summary
from model.config import APP_LIMITS, TrainConfig, parse_layer_sizes
from model.data import ENV_VAR, MnistUnavailable, file_sha256, load_mnist, mnist_source
from model.inference import DenseNet, ModelFileError
from model.job import TrainingJob
from model.preprocess import to_mnist

# The default network; MODEL_PATH moves it (the tests use a copy, so that
# "Save as default" in a test never touches the shipped file).
DEFAULT_MODEL = Path(os.environ.get("MODEL_PATH") or Path(__file__).parent / "model" / "mnist_ann.keras")
CANVAS_SIDE = 280
UNSURE_BELOW = 0.60
MAX_NETWORKS = 8  # per visitor: each is a few MB of weights in the server's memory

st.set_page_config(page_title="Read my digit", page_icon="✍️", layout="wide")


@dataclass(frozen=True)
class Network:
    """A network this visitor can draw against: its weights and its card."""

    name: str
    net: DenseNet
    card: dict

    @property
    def accuracy(self) -> float | None:
        return self.card.get("test", {}).get("accuracy")

    @property
    def label(self) -> str:
        accuracy = f" · {self.accuracy:.2%}" if self.accuracy is not None else ""
        return f"{self.name}: {architecture(self.net.hidden)}{accuracy}"


# ---------------------------------------------------------------- resources


@st.cache_resource(show_spinner="Loading the network …")
def default_network(path: str) -> Network:
    """The shipped (or last saved) default, read once per server process."""
    return Network("Default", DenseNet.load(path), read_card(path) or {})


@st.cache_resource(show_spinner="Loading MNIST …")
def training_data(source: str | None) -> tuple[tuple, dict]:
    """MNIST from `source` (None: Keras's download) and where it came from, once per process."""
    mnist = load_mnist(source)
    info = {"source": source or "keras.datasets.mnist", "sha256": file_sha256(source) if source else None}
    return mnist, info


def mnist_problem() -> str | None:
    """Why training cannot start here, found without loading anything; None if it may."""
    source = mnist_source()
    if source is not None and not source.is_file():
        return f"Training needs MNIST, but {ENV_VAR} points to {source}, which does not exist: fix the path."
    return st.session_state.get("mnist_error")


# ---------------------------------------------------------------- session


def session_networks() -> dict[str, Network]:
    if "networks" not in st.session_state:
        st.session_state.networks = {}
        st.session_state.trained = 0
        try:
            default = default_network(str(DEFAULT_MODEL))
            st.session_state.networks[default.name] = default
            st.session_state.active = default.name
        except ModelFileError as error:
            st.session_state.model_error = str(error)
            st.session_state.active = None
    return st.session_state.networks


def add_network(net: DenseNet, card: dict) -> None:
    networks = session_networks()
    st.session_state.trained += 1
    name = f"Trained #{st.session_state.trained}"
    networks[name] = Network(name, net, card)
    while len(networks) > MAX_NETWORKS:  # forget the oldest trained one, never the default
        del networks[next(n for n in networks if n != "Default")]
    st.session_state.active = name


def active_network() -> Network | None:
    return session_networks().get(st.session_state.get("active"))


# ---------------------------------------------------------------- main loop


def draw_and_predict() -> None:
    st.title("✍️ Read my digit")
    st.write("Draw a digit: a neural network trained on MNIST reads it as you draw. "
             "Train your own network in the sidebar and compare.")
    network = active_network()
    canvas_column, result_column = st.columns([1, 1.35], gap="large")
    with canvas_column:
        brush = st.session_state.get("brush", 18)
        canvas = st_canvas(
            stroke_width=brush,
            stroke_color="#000000",
            background_color="",  # transparent: the ink is the alpha channel, fastest to read
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key="canvas",
        )
        # The canvas's own toolbar (undo, redo, clear) appears just above it on hover.
        st.caption("Undo, redo and clear: hover over the box, top right.")
        st.slider("Brush width", 6, 40, key="brush", value=18,
                  help="About 18 px gives strokes as thick as MNIST's for a digit that fills the box.")
    with result_column:
        if network is None:
            st.error(f"No network to read with: {st.session_state.get('model_error')} "
                     "Train one in the sidebar.")
            return
        image = canvas.image_data
        digit_image = to_mnist(image) if image is not None else None
        if digit_image is None:
            st.info("**Draw a digit** (0–9) in the box, as large as you like. The network reads it "
                    "as soon as you lift the pen.")
            return
        show_prediction(network.net.probabilities(digit_image), digit_image)


def show_prediction(probabilities: np.ndarray, digit_image: np.ndarray) -> None:
    from ui.charts import probabilities_chart

    ranked = np.argsort(probabilities)[::-1]
    best, runner_up = int(ranked[0]), int(ranked[1])
    metric_column, image_column = st.columns([1, 1])
    metric_column.metric("Prediction", str(best), delta=f"{probabilities[best]:.1%} sure",
                         delta_color="off", delta_arrow="off")
    image_column.image(enlarge(digit_image), caption="What the model sees", width=112)
    if probabilities[best] < UNSURE_BELOW:
        st.warning(f"The network is unsure: {probabilities[best]:.0%} for {best}, "
                   f"and {probabilities[runner_up]:.0%} for {runner_up}, its runner-up.")
    st.altair_chart(probabilities_chart(probabilities, best), width="stretch")


def enlarge(image: np.ndarray, factor: int = 4) -> bytes:
    """The 28×28 input as a PNG with each pixel a visible square."""
    pixels = Image.fromarray(np.rint(image * 255).astype(np.uint8)).resize(
        (28 * factor, 28 * factor), Image.NEAREST)
    buffer = io.BytesIO()
    pixels.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- sidebar


def sidebar() -> None:
    with st.sidebar:
        st.header("Train a network")
        problem = mnist_problem()
        if problem:
            st.warning(problem)
        job: TrainingJob | None = st.session_state.get("job")
        busy = job is not None and not job.finished
        with st.form("train"):
            layers_text = st.text_input("Hidden layers", "128, 64",
                                        help=f"Units per hidden layer, comma-separated: 1 to "
                                        f"{APP_LIMITS.max_layers} layers of 1 to {APP_LIMITS.max_units}.")
            epochs = st.number_input("Epochs", 1, APP_LIMITS.max_epochs, 5)
            batch_size = st.number_input("Batch size", 1, APP_LIMITS.max_batch_size, 128)
            learning_rate = st.number_input("Learning rate", 0.00001, 1.0, 0.001, step=0.0005, format="%.5f")
            dropout = st.slider("Dropout", 0.0, 0.8, 0.2, 0.05)
            seed = st.number_input("Random seed", 0, 2**31 - 1, 0)
            submitted = st.form_submit_button("Train", type="primary", disabled=busy or bool(problem),
                                              width="stretch")
        if submitted:
            start_training(layers_text, int(epochs), int(batch_size), float(learning_rate),
                           float(dropout), int(seed))
        training_status()
        networks_panel()


def start_training(layers_text, epochs, batch_size, learning_rate, dropout, seed) -> None:
    try:
        hidden = parse_layer_sizes(layers_text)
    except ValueError as error:
        st.error(str(error))
        return
    config = TrainConfig(hidden=hidden, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, dropout=dropout, seed=seed)
    problems = config.problems(APP_LIMITS)
    if problems:
        for problem in problems:
            st.error(problem)
        return
    try:
        source = mnist_source()
        mnist, info = training_data(str(source) if source else None)
    except MnistUnavailable as error:
        st.session_state.mnist_error = str(error)
        st.rerun()
    st.session_state.job = TrainingJob(config, mnist, info).start()


def training_status() -> None:
    job: TrainingJob | None = st.session_state.get("job")
    if job is None:
        return

    @st.fragment(run_every=None if job.finished else 0.5)
    def live():
        from ui.charts import curves_chart

        st.progress(job.fraction, text=job.status)
        if job.state in ("waiting", "training"):
            st.button("Stop training", on_click=job.stop)
        if job.curve:
            st.altair_chart(curves_chart(job.curve, "loss"), width="stretch")
            st.altair_chart(curves_chart(job.curve, "accuracy"), width="stretch")
        if job.finished and st.session_state.get("collected") is not job:
            st.session_state.collected = job
            if job.state == "done":
                add_network(job.result.net, job.result.card)
            st.rerun()  # the whole page: new network in the list, and active

    live()
    if job.state == "failed":
        st.error(f"Training failed: {job.error}")
    elif job.state == "stopped":
        st.info("Training stopped; no network was added.")


def networks_panel() -> None:
    networks = session_networks()
    if not networks:
        return
    st.header("Networks")
    names = list(networks)
    st.radio("Draw against", names, key="active", format_func=lambda n: networks[n].label,
             help="Networks you trained in this session. Each visitor has their own list.")
    network = active_network()
    card = network.card
    test = card.get("test", {})
    a, b = st.columns(2)
    a.metric("Test accuracy", f"{test['accuracy']:.2%}" if "accuracy" in test else "–")
    b.metric("Parameters", f"{network.net.parameter_count:,}")
    st.caption(training_summary(card))
    if "confusion" in test:
        from ui.charts import confusion_chart

        with st.expander("Confusion matrix (MNIST test set)"):
            st.altair_chart(confusion_chart(test["confusion"]), width="stretch")
    if card.get("command"):
        st.caption(f"Repeat with `{card['command']}`")
    if network.name != "Default":
        if st.button("Save as default", help="Every new visitor will get this network. "
                     "The previous default is kept as model/mnist_ann.backup.keras."):
            save_as_default(network)


def save_as_default(network: Network) -> None:
    with st.spinner("Saving …"):
        from model.network import save_model, to_keras

        dropout = network.card.get("hyperparameters", {}).get("dropout", 0.0)
        save_model(to_keras(network.net, dropout=dropout), DEFAULT_MODEL, network.card, backup=True)
    default_network.clear()  # the next visitor loads the new default
    st.success(f"Saved {network.name} as the default network.")


draw_and_predict()
sidebar()
