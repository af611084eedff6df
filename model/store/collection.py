"""Whose samples: each visitor's collection has a key of its own, never made of what they sent.

Three kinds of collection:

- the **local** one: the person running the app on their own machine keeps
  one collection with no setup (and `train.py --extra` reads it);
- a **visitor's**, named by an unguessable token (128 random bits, 32 hex
  characters) that the page keeps in its URL, so a bookmark brings it back;
- an **account's**, for a visitor signed in with Streamlit's sign-in.

A token or an account id never becomes a key as it is: it is checked, then
hashed, so a key in the database cannot be turned back into the token that
opens it. The keys are the folder names the samples had before they moved
into the database (`visitors/<hash>`, `accounts/<hash>`), so the folder
store imports into the same collections (`model.store.folder_import`).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from model.store.samples import SampleStore

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_ACCOUNT_ID = 512
LOCAL = "local"


class CollectionError(ValueError):
    """A token or account id that cannot name a collection; the message says why."""


def new_token() -> str:
    """128 random bits as 32 hex characters: the key to a new visitor's collection."""
    return secrets.token_hex(16)


def is_token(text) -> bool:
    return isinstance(text, str) and TOKEN.fullmatch(text) is not None


def local_store(url: str | None = None) -> SampleStore:
    return SampleStore(LOCAL, url=url)


def visitor_key(token: str) -> str:
    if not is_token(token):
        raise CollectionError("That link's sample code is not one this app made (32 letters 0-9 and a-f).")
    return f"visitors/{_hashed('visitor', token)}"


def account_key(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id or len(account_id) > MAX_ACCOUNT_ID:
        raise CollectionError("The sign-in gave no usable account id.")
    return f"accounts/{_hashed('account', account_id)}"


def visitor_store(token: str, url: str | None = None) -> SampleStore:
    return SampleStore(visitor_key(token), url=url)


def account_store(account_id: str, url: str | None = None) -> SampleStore:
    return SampleStore(account_key(account_id), url=url)


def named_store(name: str, url: str | None = None) -> SampleStore:
    """A collection named on the command line (`train.py --extra`): "local", or a private link's token."""
    if name == LOCAL:
        return local_store(url)
    if is_token(name):
        return visitor_store(name, url)
    raise CollectionError(f"{name!r} names no collection: give 'local' or the 32-letter code of a private link.")


def _hashed(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]
