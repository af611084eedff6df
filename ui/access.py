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

from model.settings import COLLECTIONS_PER_ADDRESS, PASSWORD_TRIES_PER_ADDRESS, PASSWORD_TRIES_PER_MINUTE
from model.store.collection import (
    CollectionError,
    account_key,
    account_store,
    is_token,
    local_store,
    new_token,
    visitor_key,
    visitor_store,
)
from model.store.ratelimit import RateLimit
from model.store.samples import SampleError, SampleStore
from ui import keys
from ui.session import housekeeping

TOKEN_PARAM = "samples"
# Tries of the admin password per visitor's address per minute, counted in the database so that every
# replica (and every new session of the same guesser) counts the same ones.
PASSWORD_TRIES = RateLimit(PASSWORD_TRIES_PER_MINUTE, 60)  # per session
PASSWORD_TRIES_BY_ADDRESS = RateLimit(PASSWORD_TRIES_PER_ADDRESS, 600)
NEW_COLLECTIONS = RateLimit(COLLECTIONS_PER_ADDRESS, 3600)  # per address: each page load could otherwise make one


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


def connection_address() -> str | None:
    """The address this session's connection comes from, loopback included; None when it is not known.

    Not `st.context.ip_address`, which answers None both for a visitor on
    localhost and for a session with no live connection (a callback that
    runs after its websocket closed, a request through the agent API), so
    that an unknown visitor would pass for the server itself. This reads
    Streamlit's client context, the one Streamlit internal the page reads
    (tests/test_access.py pins it).
    """
    from streamlit.runtime.context import _get_client_context

    context = _get_client_context()
    address = getattr(context, "remote_ip", None) if context is not None else None
    return address if isinstance(address, str) and address else None


def at_the_server() -> bool:
    """The visitor connects from the machine the app runs on (and the owner has not turned that off).

    Fails closed: a connection whose address is not known is not the server's.
    """
    if not secret("owner_on_this_machine", True):
        return False
    address = connection_address()
    if address is None:
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
    try:
        user = dict(st.user) if st.user.is_logged_in else None
    except (AttributeError, KeyError):  # no sign-in configured
        user = None
    return user is not None and is_admin(user, secret("admins", []), secret("admin_issuer"))


def is_admin(user: dict, admins, admin_issuer) -> bool:
    """Whether a signed-in account (its OIDC claims) is listed as an admin.

    An entry is an account, `{issuer = "…", subject = "…"}`: the provider
    and its id for the person, which no one else can be given; or an e-mail
    address, which counts only when the provider named `admin_issuer` says
    it verified it (a provider that lets anyone sign in may hand out
    addresses nobody checked).
    """
    if not isinstance(admins, (list, tuple)):
        return False
    issuer, subject, email = user.get("iss"), user.get("sub"), user.get("email")
    verified = user.get("email_verified") in (True, "true")
    for entry in admins:
        if isinstance(entry, dict) or hasattr(entry, "get"):
            if issuer and subject and entry.get("issuer") == issuer and str(entry.get("subject")) == str(subject):
                return True
        elif isinstance(entry, str) and admin_issuer and issuer == admin_issuer and verified and email:
            if email.strip().lower() == entry.strip().lower():
                return True
    return False


def client_address() -> str:
    """Whose actions a limit per address counts: the visitor's address as the server sees it (behind the
    project's proxy, the forwarded one), an IPv6 address by its /64 (what one home or one machine gets), and
    "unknown" for a session whose address is not known."""
    address = connection_address()
    if address is None:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def over_limit(limit: RateLimit, scope: str) -> str | None:
    """Count one more action in `scope` and return None, or, past the limit, a sentence on how long to wait
    (and count nothing)."""
    if limit.allow(scope):
        return None
    return f"wait {max(1, round(limit.wait(scope)))} s, then try again."


class TooManyTries(Exception):
    """The admin password was tried too often from this address; the message says how long to wait."""


def check_password(typed: str) -> bool:
    """Compare with the admin password in constant time; a few tries a minute per session, and a few more
    every ten minutes per address (an IPv6 address by its /64), so that new pages give no new guesses.

    Raises `TooManyTries` past a limit, and `StoreUnavailable` when the
    tries cannot be counted (the database is down): a password is never
    checked without its limits.
    """
    expected = secret("admin_password")
    if not expected or not isinstance(typed, str) or len(typed) > 1024:
        return False
    for limit, scope in (
        (PASSWORD_TRIES, f"password-session:{visitor_id()}"),
        (PASSWORD_TRIES_BY_ADDRESS, f"password-by-address:{client_address()}"),
    ):
        if not limit.allow(scope):
            raise TooManyTries(f"Too many tries: wait {max(1, round(limit.wait(scope)))} s.")
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
    wait = over_limit(NEW_COLLECTIONS, f"collections-by-address:{client_address()}")
    if wait:
        raise SampleError(f"Too many new collections of samples from your address: {wait}")
    token = new_token()
    st.query_params[TOKEN_PARAM] = token
    st.session_state[keys.COLLECTION_ERROR] = None
    return visitor_store(token)


def collection_name() -> str:
    """Whose samples this page works with, for limits that count a visitor's pages together: their account's
    or private link's collection key, "local" at the server, "" for a visitor with neither."""
    account = account_id()
    if account is not None:
        return account_key(account)
    token = st.query_params.get(TOKEN_PARAM)
    if is_token(token):
        return visitor_key(token)
    return "local" if at_the_server() else ""


def has_private_link() -> bool:
    return account_id() is None and is_token(st.query_params.get(TOKEN_PARAM))
