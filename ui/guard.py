"""What one address may hold of a server: its open pages, and the memory its uploads take.

A page load is a new session; nothing in Streamlit stops one client from
opening hundreds, nor from sending its session's upload endpoint file after
file (kept in memory while the page lives). Two bounds, once per process:

- **pages**: each page registers its session with its address at every full
  run; past `PAGES_PER_ADDRESS` live pages from one address, or
  `NEW_PAGES_PER_ADDRESS` opened from it in 10 minutes, a page says so in a
  sentence and does nothing else (each page holds a session on the server);
- **uploads**: every file a page uploads is weighed as it arrives; past two
  files for a page, `UPLOAD_MB_PER_ADDRESS` for an address or
  `UPLOAD_MB_IN_ALL` for the server, the oldest files go (a visitor imports
  one file at a time; the page reads it at once).

The upload bound wraps Streamlit's in-memory upload manager
(`Runtime.uploaded_file_mgr`: its `add_file`, `remove_file` and
`file_storage`), the second Streamlit internal the page relies on;
tests/test_guard.py pins what it uses.
"""

from __future__ import annotations

import threading
import time

import streamlit as st

from model.settings import NEW_PAGES_PER_ADDRESS, PAGES_PER_ADDRESS, UPLOAD_MB_IN_ALL, UPLOAD_MB_PER_ADDRESS
from model.store.db import StoreUnavailable
from model.store.ratelimit import RateLimit
from ui import keys
from ui.access import at_the_server, client_address, over_limit

FILES_PER_PAGE = 2  # the file being imported, and one more arriving
NEW_PAGES = RateLimit(NEW_PAGES_PER_ADDRESS, 600)  # per address: a class opening its pages, and reloading some


class Registry:
    """Session id → (address, first seen): which pages are open from where."""

    def __init__(self):
        self.pages: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()

    def note(self, session_id: str, address: str, alive) -> bool:
        """Register a page; True if it is within its address's share (the earliest live pages are)."""
        with self.lock:
            self.pages.setdefault(session_id, (address, time.monotonic()))
            gone = [sid for sid in self.pages if not alive(sid)]
            for sid in gone:
                del self.pages[sid]
            mine = sorted((since, sid) for sid, (where, since) in self.pages.items() if where == address)
        return session_id in {sid for _, sid in mine[:PAGES_PER_ADDRESS]}

    def address(self, session_id: str) -> str:
        with self.lock:
            return self.pages.get(session_id, ("unknown", 0.0))[0]


@st.cache_resource(show_spinner=False)
def registry() -> Registry:
    """The one registry of this server process, its uploads bounded from its first page on."""
    from streamlit import runtime

    pages = Registry()
    if runtime.exists():
        bound_uploads(runtime.get_instance().uploaded_file_mgr, pages.address)
    return pages


def admit_page() -> None:
    """At every full run: register this page; a page past its address's share says so and stops there."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not runtime.exists():
        return
    if keys.PAGE_REFUSED not in st.session_state:  # counted once, at the page's first run
        st.session_state[keys.PAGE_REFUSED] = None if at_the_server() else new_page_refusal(client_address())
    if st.session_state[keys.PAGE_REFUSED]:
        st.warning(st.session_state[keys.PAGE_REFUSED])
        st.stop()
    instance = runtime.get_instance()
    if not registry().note(context.session_id, client_address(), instance.is_active_session):
        st.warning(
            f"There are already {PAGES_PER_ADDRESS} pages of this app open from your address. Close one of "
            "them and reload this page."
        )
        st.stop()


def new_page_refusal(address: str) -> str | None:
    """Count a page opened from `address`; past `NEW_PAGES_PER_ADDRESS` in 10 minutes, the sentence it shows
    instead of the app. Without the database the page opens (drawing needs none)."""
    try:
        wait = over_limit(NEW_PAGES, f"pages-by-address:{address}")
    except StoreUnavailable:
        return None
    if wait is None:
        return None
    wait = wait.replace("try again", "reload this page")
    return f"Many pages of this app were opened from your address in the last minutes: {wait}"


def bound_uploads(manager, address_of) -> None:
    """Wrap `manager.add_file` so that pages, addresses and the server keep within their share of uploads."""
    if getattr(manager, "bounded", False):
        return
    add_file = manager.add_file

    def bounded_add_file(session_id, file) -> None:
        add_file(session_id, file)
        evict(manager, session_id, address_of)

    manager.add_file = bounded_add_file
    manager.bounded = True


def evict(manager, session_id: str, address_of) -> None:
    """Remove the oldest uploaded files until the page, its address and the server are within their bounds."""
    with manager._lock:
        files = [
            (sid, fid, len(rec.data)) for sid, records in manager.file_storage.items() for fid, rec in records.items()
        ]
    mine = [f for f in files if f[0] == session_id]
    doomed = mine[: max(0, len(mine) - FILES_PER_PAGE)]
    address = address_of(session_id)
    theirs = [f for f in files if f not in doomed and address_of(f[0]) == address]
    doomed += oldest_over(theirs, UPLOAD_MB_PER_ADDRESS << 20)
    everyone = [f for f in files if f not in doomed]
    doomed += oldest_over(everyone, UPLOAD_MB_IN_ALL << 20)
    for sid, fid, _ in doomed:
        manager.remove_file(sid, fid)


def oldest_over(files: list[tuple[str, str, int]], limit: int) -> list[tuple[str, str, int]]:
    """The first (oldest) of `files` to drop so that what is left weighs at most `limit` bytes."""
    total, dropped = sum(size for _, _, size in files), []
    for file in files:
        if total <= limit:
            break
        dropped.append(file)
        total -= file[2]
    return dropped
