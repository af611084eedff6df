"""Whose samples: each visitor's collection has a folder of its own, never named by what they sent.

Three kinds of collection live under the samples folder (`SAMPLES_PATH`):

- the **local** one, the folder itself: the person running the app on their
  own machine keeps one collection with no setup (and `train.py --extra
  data/my_digits` reads it);
- a **visitor's**, named by an unguessable token (128 random bits, 32 hex
  characters) that the page keeps in its URL, so a bookmark brings it back;
- an **account's**, for a visitor signed in with Streamlit's sign-in.

A token or an account id never becomes a path as it is: it is checked, then
hashed, and the folder is named by the hash. So a folder name cannot be
turned back into the token that opens it, and nothing a visitor sends can
reach outside `visitors/` or `accounts/`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

from model.store.samples import SampleStore, default_folder

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_ACCOUNT_ID = 512


class CollectionError(ValueError):
    """A token or account id that cannot name a collection; the message says why."""


def new_token() -> str:
    """128 random bits as 32 hex characters: the key to a new visitor's collection."""
    return secrets.token_hex(16)


def is_token(text) -> bool:
    return isinstance(text, str) and TOKEN.fullmatch(text) is not None


def local_store(root: Path | None = None) -> SampleStore:
    return SampleStore(root or default_folder())


def visitor_store(token: str, root: Path | None = None) -> SampleStore:
    if not is_token(token):
        raise CollectionError("That link's sample code is not one this app made (32 letters 0-9 and a-f).")
    return SampleStore((root or default_folder()) / "visitors" / _hashed("visitor", token))


def account_store(account_id: str, root: Path | None = None) -> SampleStore:
    if not isinstance(account_id, str) or not account_id or len(account_id) > MAX_ACCOUNT_ID:
        raise CollectionError("The sign-in gave no usable account id.")
    return SampleStore((root or default_folder()) / "accounts" / _hashed("account", account_id))


def all_stores(root: Path | None = None) -> list[SampleStore]:
    """Every collection on this server (for start-up repair)."""
    root = root or default_folder()
    folders = [root] + [
        child
        for kind in ("visitors", "accounts")
        if (root / kind).is_dir()
        for child in sorted((root / kind).iterdir())
        if child.is_dir()
    ]
    return [SampleStore(folder) for folder in folders]


def _hashed(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]
