"""Who is at the page: whose samples they see, and whether they may change what everybody gets.

Every visitor draws, trains and fine-tunes for themselves. Two things are
kept apart:

- **Their samples.** A signed-in visitor's collection belongs to their
  account; any other visitor's is named by a token in the page's URL
  (`?samples=…`), made at their first save, so a bookmark brings it back and
  nobody else can guess it. The person at the server itself (a loopback
  address) keeps the one local collection, with no setup.
- **The owner's actions** ("Save as default", rolling back): offered only to
  a visitor at the server itself, one who typed the admin password from
  `.streamlit/secrets.toml`, or a signed-in account listed there as admin.
  The page checks again when the action runs, so a crafted message cannot do
  it either.

Secrets (all optional), in `.streamlit/secrets.toml`:

    admin_password = "…"          # compared in constant time
    admins = ["teacher@example.org"]
    owner_on_this_machine = true  # false: a browser on the server is a visitor like any other
                                  # (set it false behind a reverse proxy on the same machine,
                                  # where every visitor arrives from the loopback address)
    [auth] …                      # Streamlit's own OIDC sign-in settings (st.login)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets as random_secrets

import streamlit as st

from model.settings import PASSWORD_TRIES_PER_MINUTE
from model.store.collection import CollectionError, account_store, is_token, local_store, new_token, visitor_store
from model.store.ratelimit import RateLimit
from model.store.samples import SampleStore
from ui import keys
from ui.session import housekeeping

TOKEN_PARAM = "samples"
# Tries of the admin password per visitor's address per minute, counted in the database so that every
# replica (and every new session of the same guesser) counts the same ones.
PASSWORD_TRIES = RateLimit(PASSWORD_TRIES_PER_MINUTE, 60)


def secret(key: str, default=None):
    """A value from secrets.toml, or `default` when there is no such file or key."""
    try:
        return st.secrets.get(key, default)
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning the default
        return default


def visitor_id() -> str:
    """An opaque id of this browser session, made here (AppTest gives every session the same one)."""
    if keys.VISITOR_ID not in st.session_state:
        st.session_state[keys.VISITOR_ID] = random_secrets.token_hex(16)
    return st.session_state[keys.VISITOR_ID]


def at_the_server() -> bool:
    """The visitor connects from the machine the app runs on (and the owner has not turned that off)."""
    if not secret("owner_on_this_machine", True):
        return False
    address = st.context.ip_address
    if address is None:  # Streamlit's documented answer for a visitor on localhost
        return True
    if not isinstance(address, str):
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def signed_in_email() -> str | None:
    try:
        if st.user.is_logged_in:
            return st.user.get("email") or None
    except (AttributeError, KeyError):  # no sign-in configured
        pass
    return None


def account_id() -> str | None:
    """A stable id of the signed-in account: issuer and subject, or the e-mail address."""
    try:
        if not st.user.is_logged_in:
            return None
        issuer, subject = st.user.get("iss"), st.user.get("sub")
        return f"{issuer}|{subject}" if issuer and subject else st.user.get("email")
    except (AttributeError, KeyError):
        return None


def sign_in_available() -> bool:
    return secret("auth") is not None


def is_owner() -> bool:
    if st.session_state.get(keys.OWNER_PASSWORD_OK) or at_the_server():
        return True
    email = signed_in_email()
    admins = secret("admins", []) or []
    return email is not None and email in list(admins)


def client_address() -> str:
    """The visitor's address as the server sees it (behind the project's proxy: the forwarded one)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "local"


class TooManyTries(Exception):
    """The admin password was tried too often from this address; the message says how long to wait."""


def check_password(typed: str) -> bool:
    """Compare with the admin password in constant time; a few tries per minute per address.

    Raises `TooManyTries` past the limit, and `StoreUnavailable` when the
    tries cannot be counted (the database is down): a password is never
    checked without its limit.
    """
    expected = secret("admin_password")
    if not expected or not isinstance(typed, str):
        return False
    scope = f"password:{client_address()}"
    if not PASSWORD_TRIES.allow(scope):
        raise TooManyTries(f"Too many tries: wait {max(1, round(PASSWORD_TRIES.wait(scope)))} s.")
    ok = hmac.compare_digest(hashlib.sha256(typed.encode()).digest(), hashlib.sha256(str(expected).encode()).digest())
    st.session_state[keys.OWNER_PASSWORD_OK] = ok
    return ok


def sample_store(create: bool = False) -> SampleStore | None:
    """This visitor's collection; None if they have none yet (and `create` is False).

    With `create`, a visitor without one gets a new token, put in the URL.
    Raises `StoreUnavailable` when the database cannot be opened.
    """
    housekeeping()  # the database opened and the old folder store imported before any sample is read or saved
    account = account_id()
    if account is not None:
        return account_store(account)
    token = st.query_params.get(TOKEN_PARAM)
    if token is not None:
        try:
            return visitor_store(token)
        except CollectionError as error:
            st.session_state[keys.COLLECTION_ERROR] = str(error)
            if not create:
                return None
    if at_the_server() and token is None:
        return local_store()
    if not create:
        return None
    token = new_token()
    st.query_params[TOKEN_PARAM] = token
    st.session_state[keys.COLLECTION_ERROR] = None
    return visitor_store(token)


def has_private_link() -> bool:
    return account_id() is None and is_token(st.query_params.get(TOKEN_PARAM))
