"""What one address may hold of a server: its pages, and the memory its uploads take (ui/guard.py)."""

from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from model.settings import PAGES_PER_ADDRESS, UPLOAD_MB_IN_ALL, UPLOAD_MB_PER_ADDRESS
from ui.guard import FILES_PER_PAGE, Registry, bound_uploads

MB = 1 << 20


def upload(manager, session, n, size_mb=5):
    manager.add_file(session, UploadedFileRec(f"file-{n}", "x.npz", "application/octet-stream", b"\0" * (size_mb * MB)))


def held(manager) -> dict[str, int]:
    return {session: sum(len(r.data) for r in files.values()) // MB for session, files in manager.file_storage.items()}


def test_a_page_holds_its_last_two_uploads_however_many_it_sends():
    """The flood seen: 30 PUTs of 5 MB to one's own page added 150 MB; now a page holds 10 at most."""
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    bound_uploads(manager, lambda session: "203.0.113.9")
    for n in range(30):
        upload(manager, "page", n)
    assert list(manager.file_storage["page"]) == [f"file-{n}" for n in range(30 - FILES_PER_PAGE, 30)]
    assert held(manager)["page"] == 5 * FILES_PER_PAGE


def test_an_address_and_the_server_hold_their_share_and_another_addresss_upload_stays():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    addresses = {f"griefer-{n}": "203.0.113.9" for n in range(40)} | {"teacher": "198.51.100.1"}
    bound_uploads(manager, lambda session: addresses.get(session, "unknown"))
    upload(manager, "teacher", 0)
    for n in range(40):
        for k in range(2):
            upload(manager, f"griefer-{n}", k)
    sizes = held(manager)
    assert sum(v for s, v in sizes.items() if s.startswith("griefer")) <= UPLOAD_MB_PER_ADDRESS
    assert sizes["teacher"] == 5, "another address's upload is not the griefer's to push out"
    assert sum(sizes.values()) <= UPLOAD_MB_IN_ALL


def test_a_manager_is_wrapped_once():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    bound_uploads(manager, lambda s: "a")
    wrapped = manager.add_file
    bound_uploads(manager, lambda s: "a")
    assert manager.add_file is wrapped


def test_an_address_gets_its_share_of_open_pages_and_closed_pages_make_room():
    registry = Registry()
    open_pages = set()

    def alive(session):
        return session in open_pages

    admitted = []
    for n in range(PAGES_PER_ADDRESS + 5):
        open_pages.add(f"p{n}")
        admitted.append(registry.note(f"p{n}", "203.0.113.9", alive))
    assert admitted == [True] * PAGES_PER_ADDRESS + [False] * 5
    open_pages.add("other")
    assert registry.note("other", "198.51.100.1", alive), "another address is not held back"
    open_pages.discard("p0")
    assert registry.note(f"p{PAGES_PER_ADDRESS}", "203.0.113.9", alive), "a closed page makes room"


def test_an_address_opens_a_bounded_number_of_pages_and_another_address_is_not_held_back():
    """Past its share of pages opened in 10 minutes, an address's new pages get one sentence instead
    (`ui.guard.admit_page` shows it and stops)."""
    from model.settings import NEW_PAGES_PER_ADDRESS
    from ui.guard import new_page_refusal

    answers = [new_page_refusal("203.0.113.77") for _ in range(NEW_PAGES_PER_ADDRESS + 1)]
    assert answers[:-1] == [None] * NEW_PAGES_PER_ADDRESS
    assert answers[-1].startswith("Many pages of this app were opened from your address") and answers[-1].endswith(
        "then reload this page."
    ), answers[-1]
    assert new_page_refusal("198.51.100.77") is None, "another address opens its page"
