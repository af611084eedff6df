"""Two panels for the curious: inside the network for the current drawing, and where it fails on MNIST.

Nothing here runs unless the visitor opens the panel; the drawing loop above
never waits for it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.reading.explain import activations, misclassified, saliency, strongest_units, unit_weights
from model.reading.metrics import best_two, evaluate
from model.store.data import MnistUnavailable
from model.store.network import Network
from ui import keys
from ui.pictures import diverging, enlarge, overlay
from ui.session import mnist

GALLERY = 40  # misclassified digits shown at once


def inside_the_network(network: Network, digit_image: np.ndarray | None) -> None:
    from ui.charts import activation_chart

    if digit_image is None:
        st.info("Draw a digit to see how the network reads it.")
        return
    net = network.net
    layers = activations(net, digit_image)
    probabilities = net.probabilities(digit_image)
    best, runner_up = best_two(probabilities)

    st.markdown(
        "**Activations.** Each square is a unit of a hidden layer, darker when it fires harder "
        "for your drawing; the five strongest are outlined."
    )
    for i, layer in enumerate(layers, 1):
        active = int((layer > 0).sum())
        st.caption(f"Hidden layer {i}: {len(layer)} units, {active} active ({active / len(layer):.0%})")
        st.altair_chart(activation_chart(layer, strongest_units(layer, 5)), width="stretch")

    units = strongest_units(layers[0], 8)
    if len(units):
        st.markdown(
            "**What a unit looks for.** The incoming weights of the first layer's most active units: "
            "ink on red pixels makes a unit fire, ink on blue pixels holds it back."
        )
        columns = st.columns(len(units))
        for column, unit, weights in zip(columns, units, unit_weights(net, units)):
            column.image(diverging(weights), caption=f"unit {unit}: {layers[0][unit]:.1f}", width="stretch")

    st.markdown(
        f"**Why {best}.** Integrated gradients: red pixels of your drawing pushed the network "
        f"towards {best}, blue ones away from it."
    )
    compare = st.toggle(f"Also show why not {runner_up} (the runner-up, {probabilities[runner_up]:.1%})")
    targets = [best, runner_up] if compare else [best]
    columns = st.columns(len(targets) + 1)
    columns[0].image(enlarge(digit_image), caption="What the model sees", width=140)
    for column, target in zip(columns[1:], targets):
        column.image(
            overlay(digit_image, saliency(net, digit_image, target)),
            caption=f"for {target} ({probabilities[target]:.1%})",
            width=140,
        )


def mistakes_of(network: Network, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """The network's test-set evaluation and mistakes: scored once per network in this server process, whoever
    opens the panel (every visitor's default is one network)."""
    import hashlib

    fingerprint = hashlib.sha256(b"".join(a.tobytes() for a in network.net.weights())).hexdigest()
    return _mistakes(fingerprint, network.net, x_test, y_test)


@st.cache_resource(show_spinner="Scoring the network on MNIST's test set …", max_entries=16)
def _mistakes(fingerprint: str, _net, _x_test: np.ndarray, _y_test: np.ndarray) -> dict:
    wrong = misclassified(_net, _x_test, _y_test)
    probabilities = _net.probabilities_batched(_x_test / 255.0)
    return {"wrong": wrong, "evaluation": evaluate(probabilities, _y_test)}


def where_it_fails(network: Network) -> None:
    from ui.charts import confusion_chart, per_class_chart

    try:
        (_, _), (x_test, y_test) = mnist()[0]
    except MnistUnavailable as error:
        st.info(f"This needs the MNIST test set. {error}")
        return
    found = mistakes_of(network, x_test, y_test)
    wrong, evaluation = found["wrong"], found["evaluation"]
    st.markdown(
        f"**{network.name}** reads {evaluation.accuracy:.2%} of the {evaluation.count:,} MNIST test "
        f"digits right: {len(wrong['index'])} mistakes. Click a cell of the confusion matrix, or "
        "choose digits below, to see them."
    )
    left, right = st.columns([1, 1.2])
    with left:
        st.caption("Accuracy per digit")
        st.altair_chart(per_class_chart(evaluation.per_class_accuracy), width="stretch")
    with right:
        event = st.altair_chart(
            confusion_chart(evaluation.confusion, selectable=True),
            width="stretch",
            on_select="rerun",
            selection_mode="cell",
            key=keys.CONFUSION_PICK,
        )
    picked = (event.selection.get("cell") or [{}])[0] if event else {}

    options = ["any", *range(10)]
    a, b = st.columns(2)
    true = a.selectbox("True digit", options, index=options.index(int(picked["true"])) if "true" in picked else 0)
    predicted = b.selectbox(
        "Read as", options, index=options.index(int(picked["predicted"])) if "predicted" in picked else 0
    )
    chosen = np.ones(len(wrong["index"]), bool)
    if true != "any":
        chosen &= wrong["true"] == true
    if predicted != "any":
        chosen &= wrong["predicted"] == predicted
    shown = np.flatnonzero(chosen)[:GALLERY]
    if not len(shown):
        st.caption("No mistakes of that kind.")
        return
    st.caption(
        f"{chosen.sum()} such mistakes, the most confident first"
        + (f" (showing {GALLERY})" if chosen.sum() > GALLERY else "")
        + "."
    )
    columns = st.columns(10)
    for n, i in enumerate(shown):
        columns[n % 10].image(
            enlarge(x_test[wrong["index"][i]], 2),
            width="stretch",
            caption=f"{wrong['true'][i]} → {wrong['predicted'][i]} · {wrong['confidence'][i]:.0%}",
        )
