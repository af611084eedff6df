"""Draw a digit and watch a neural network read it; change the network and see what changes.

    streamlit run app.py

The page only wires widgets to functions: the ML lives in `model/` (shared
with train.py), the page's parts in `ui/`. Drawing and predicting need no
TensorFlow: the network's weights are read into NumPy once per server
process, so the canvas is ready at once and each stroke is answered in well
under a millisecond of computation. TensorFlow is imported only by the Dask
workers that run trainings (`model.jobs.service`, `model.jobs.tasks`), never in the server itself.
ARCHITECTURE.md maps the rest.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from model.reading.metrics import best_two
from model.reading.preprocess import DrawingError, read_png, to_mnist
from model.reading.threads import one_blas_thread
from model.settings import MAX_DRAWING_SIDE
from model.store.network import Network
from ui import keys
from ui.access import is_owner
from ui.bars import READING_STYLE
from ui.guard import admit_page
from ui.handwriting import forget_sample_total
from ui.layout import CLEAR_KEY, INTRODUCTION, PAGE_LAYOUT
from ui.networks import networks_panel
from ui.owner import owner_panel
from ui.session import active_network, freeze_what_is_loaded, open_database, warm_cluster
from ui.training import sidebar_title, training_form

CANVAS_SIDE = 280
DEFAULT_BRUSH = 18  # px: strokes as thick as MNIST's for a digit that fills the box
UNSURE_BELOW = 0.60
EXPLORE = ["Inside the network", "Where it fails", "Teach it your handwriting"]
OWNERS_EXPLORE = "Class handwriting"  # the owner's view of what visitors share

# The canvas's image comes from the browser: Pillow refuses (before decoding)
# any image with more pixels than twice this, whatever the message claims.
Image.MAX_IMAGE_PIXELS = MAX_DRAWING_SIDE**2

st.set_page_config(page_title="Read my digit", page_icon="✍️", layout="wide")
one_blas_thread()  # once per server process: no BLAS threads spinning between visitors' strokes
admit_page()  # past its address's share of open pages, a page says so and stops here


def draw_and_predict() -> tuple[Network | None, np.ndarray | None]:
    """The main loop: the canvas, and beside it what the network reads. Returns the network and the 28×28 input."""
    canvas_column, result_column = st.columns([1, 1.35], gap="large")
    with canvas_column:
        canvas = st_canvas(
            stroke_width=st.session_state.get(keys.BRUSH, DEFAULT_BRUSH),
            stroke_color="#000000",
            background_color="",  # transparent: the ink is the alpha channel, fastest to read
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key=canvas_key(),
        )
    network = active_network()  # after the canvas: the visitor can start drawing while it loads
    with result_column:
        if network is None:
            st.error(f"No network to read with: {st.session_state.get(keys.MODEL_ERROR)} Train one in the sidebar.")
            if is_owner() and st.session_state.get(keys.MODEL_ERROR_DETAIL):
                st.caption(f"For the owner: {st.session_state[keys.MODEL_ERROR_DETAIL]}")
            return network, None
        try:
            png = canvas.image_bytes
            digit_image = to_mnist(read_png(png, MAX_DRAWING_SIDE)) if png else None
        except (DrawingError, ValueError) as error:
            st.warning(f"This drawing could not be read: {error} Clear the box and draw again.")
            return network, None
        if digit_image is None:
            st.info(
                "**Draw a digit** (0–9) in the box, as large as you like. The network reads it "
                "as soon as you lift the pen."
            )
            return network, None
        show_prediction(network.net.probabilities(digit_image), digit_image)
        from ui.handwriting import correction

        correction(digit_image, canvas.json_data)
    return network, digit_image


def canvas_key() -> str:
    """The canvas's key: a new one is a new, empty canvas (the page's own Clear, for screens without hover)."""
    cleared = st.session_state.get(keys.CLEARED, 0)
    return keys.CANVAS if not cleared else f"{keys.CANVAS}-{cleared}"


def clear_canvas() -> None:
    st.session_state[keys.CLEARED] = st.session_state.get(keys.CLEARED, 0) + 1


def show_prediction(probabilities: np.ndarray, digit_image: np.ndarray) -> None:
    from ui.bars import reading_panel
    from ui.pictures import png

    best, runner_up = best_two(probabilities)
    st.metric("Prediction", str(best), delta=f"{probabilities[best]:.1%} sure", delta_color="off", delta_arrow="off")
    if probabilities[best] < UNSURE_BELOW:
        st.warning(
            f"The network is unsure: {probabilities[best]:.0%} for {best}, "
            f"and {probabilities[runner_up]:.0%} for {runner_up}, its runner-up."
        )
    # 28×28 pixels, enlarged in the browser: a fraction of the bytes and of the encoding time.
    st.html(reading_panel(probabilities, best, png(digit_image * 255.0, factor=1)))


def explore(network: Network | None, digit_image: np.ndarray | None) -> None:
    """The panel for learners opened with "Look closer" (above the canvas), computed only when one is open."""
    if network is None:
        return
    view = st.session_state.get(keys.EXPLORE)
    if view == EXPLORE[0]:
        from ui.inside import inside_the_network

        inside_the_network(network, digit_image)
    elif view == EXPLORE[1]:
        from ui.inside import where_it_fails

        where_it_fails(network)
    elif view == EXPLORE[2]:
        from ui.handwriting import teach_panel

        teach_panel(network)
    elif view == OWNERS_EXPLORE:
        from ui.shared import shared_panel

        shared_panel(network)


@st.fragment
def reading() -> None:
    """A stroke reruns only this part of the page (canvas, prediction, panels), not the sidebar."""
    with st.container(key="reading"):  # `ui.layout` places it on a phone
        explore(*draw_and_predict())


def sidebar() -> None:
    """Everything in the sidebar below its title (`sidebar_title`, written first)."""
    warm_cluster()
    with st.sidebar:
        training_form()
        networks_panel()
        owner_panel()


forget_sample_total()  # a full run counts the visitor's samples again (a stroke does not)
# What does not change with a stroke stays outside the fragment, so a stroke
# neither reruns nor sends it again: the title, the brush, "Look closer", the bars' style.
sidebar_title()  # first: the sidebar's arrival would move the canvas under a visitor's pen
st.title("✍️ Read my digit")
st.markdown(INTRODUCTION, unsafe_allow_html=True)  # the page's own words, its spans styled by `ui.layout`
controls = st.container(key="controls")  # above the canvas; on a phone, under the reading, near the thumb
brush_column, explore_column = controls.columns([1, 1.35], gap="large")
brush_column.slider(
    "Brush width",
    6,
    40,
    key=keys.BRUSH,
    value=DEFAULT_BRUSH,
    width=CANVAS_SIDE,
    help="About 18 px gives strokes as thick as MNIST's for a digit that fills the box.",
)
brush_column.button("Clear the box", key=CLEAR_KEY, on_click=clear_canvas, icon=":material/delete:")
explore_column.segmented_control(
    "Look closer",
    EXPLORE + ([OWNERS_EXPLORE] if is_owner() else []),
    key=keys.EXPLORE,
    help="Opens a panel under the drawing; nothing is computed until you open one.",
)
st.html(READING_STYLE + PAGE_LAYOUT)
reading()
open_database()  # once per server process, after the canvas is up: open the database, import the old folders
sidebar()
freeze_what_is_loaded()  # once, after the first full run has loaded what the page needs
