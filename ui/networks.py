"""Choose the network that reads your drawings: your list, the chosen one's figures, its card."""

from __future__ import annotations

import streamlit as st

from model.settings import KEPT_DEFAULTS
from model.store.card import training_summary
from ui import keys
from ui.access import is_owner
from ui.owner import save_as_default
from ui.session import active_network, session_networks


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
            f"(the last {KEPT_DEFAULTS}), and you can roll back below.",
        )
    message = st.session_state.pop(keys.SAVE_MESSAGE, None)
    if message:
        getattr(st, message[0])(message[1])


def compact(n: int) -> str:
    """952410 → "952k": fits the sidebar's half-width metric."""
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e4 else f"{n:,}"
