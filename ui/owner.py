"""The owner's controls: sign-in, the admin password, "Save as default" and rolling the default back.

What changes every visitor's page is for the owner only (`ui.access.is_owner`), checked again when an
action runs: a crafted message for a button never shown does nothing.
"""

from __future__ import annotations

import streamlit as st

from model.reading.network import ModelFileError
from model.store.db import StoreUnavailable
from model.store.defaults import earlier_defaults, publish, roll_back
from ui import keys
from ui.access import TooManyTries, check_password, is_owner, secret, sign_in_available, signed_in_email
from ui.session import session_networks

OWNER_ONLY = "Only the owner of this app can change its default network."


def save_as_default(name: str) -> None:
    """Make one of this owner's networks the default every new visitor gets: one transaction, no job."""
    network = session_networks().get(name)
    if not is_owner() or network is None or name == "Default":
        st.session_state[keys.SAVE_MESSAGE] = ("error", OWNER_ONLY)
        return
    try:
        publish(network)
    except (ModelFileError, StoreUnavailable) as error:
        sentence = f"Could not save {name}: {error} The previous default is unchanged."
        st.session_state[keys.SAVE_MESSAGE] = ("error", sentence)
        return
    st.session_state[keys.SAVE_MESSAGE] = ("success", f"Saved {name} as the default network.")


def owner_panel() -> None:
    """Sign-in, the admin password, and rolling the default back, for the owner."""
    email = signed_in_email()
    if sign_in_available():
        if email:
            st.caption(f"Signed in as {email}.")
            st.button("Sign out", on_click=st.logout)
        else:
            st.button("Sign in", on_click=st.login, help="Keeps your samples with your account.")
    if not is_owner():
        if secret("admin_password"):
            with st.expander("Owner"), st.form("owner"):
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
            on_click=roll_back_to,
            args=(choice,),
            help="Makes that network the default again; the current one is kept.",
        )


def roll_back_to(name: str) -> None:
    if not is_owner():
        st.session_state[keys.SAVE_MESSAGE] = ("error", OWNER_ONLY)
        return
    try:
        roll_back(name)
    except (ModelFileError, StoreUnavailable) as error:
        st.session_state[keys.SAVE_MESSAGE] = ("error", f"Could not roll back: {error}")
        return
    st.session_state[keys.SAVE_MESSAGE] = (
        "success",
        "Rolled back: new visitors get that network. Yours changes when you reload the page.",
    )
