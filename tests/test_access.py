"""Who is at the page: the owner only where the address is known and the server's; admins by account."""

from types import SimpleNamespace

import pytest
import streamlit.runtime.context as streamlit_context

from ui import access


@pytest.fixture
def connected(monkeypatch):
    """Pretend the session's connection comes from `address` (None: no live connection at all)."""
    monkeypatch.setattr(access, "secret", lambda key, default=None: default)

    def connect(address):
        context = None if address is None else SimpleNamespace(remote_ip=address)
        monkeypatch.setattr(streamlit_context, "_get_client_context", lambda: context)

    return connect


@pytest.mark.parametrize(
    ("address", "owner"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        (None, False),  # a callback after the websocket closed, the agent API: not the server's
        ("10.0.0.7", False),
        ("2001:db8::1", False),
        ("not an address", False),
    ],
)
def test_the_server_itself_is_a_loopback_connection_and_nothing_else(connected, address, owner):
    connected(address)
    assert access.at_the_server() is owner


def test_the_one_streamlit_internal_read_for_it_is_still_there():
    """`connection_address` reads `streamlit.runtime.context._get_client_context()` and its `remote_ip`."""
    from streamlit.runtime.session_manager import ClientContext

    assert callable(streamlit_context._get_client_context)
    assert "remote_ip" in dir(ClientContext) or "remote_ip" in getattr(ClientContext, "__annotations__", {})


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # the same /64: one address for the limits
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, "unknown"),
    ],
)
def test_limits_count_an_ipv6_address_by_its_64(connected, address, counted_as):
    connected(address)
    assert access.client_address() == counted_as


GOOGLE = "https://accounts.google.com"


@pytest.mark.parametrize(
    ("user", "admins", "issuer", "admin"),
    [
        ({"iss": GOOGLE, "sub": "42"}, [{"issuer": GOOGLE, "subject": "42"}], None, True),
        ({"iss": "https://evil.example", "sub": "42"}, [{"issuer": GOOGLE, "subject": "42"}], None, False),
        ({"iss": GOOGLE, "sub": "43"}, [{"issuer": GOOGLE, "subject": "42"}], None, False),
        ({"iss": GOOGLE, "email": "t@x.org", "email_verified": True}, ["t@x.org"], GOOGLE, True),
        ({"iss": GOOGLE, "email": "T@X.org", "email_verified": True}, ["t@x.org"], GOOGLE, True),
        ({"iss": GOOGLE, "email": "t@x.org", "email_verified": False}, ["t@x.org"], GOOGLE, False),
        ({"iss": GOOGLE, "email": "t@x.org"}, ["t@x.org"], GOOGLE, False),  # nobody said it was verified
        ({"iss": "https://other.example", "email": "t@x.org", "email_verified": True}, ["t@x.org"], GOOGLE, False),
        ({"iss": GOOGLE, "email": "t@x.org", "email_verified": True}, ["t@x.org"], None, False),  # no fixed issuer
        ({"iss": GOOGLE, "email": "t@x.org", "email_verified": True}, "t@x.org", GOOGLE, False),  # not a list
    ],
)
def test_admins_are_accounts_by_issuer_and_subject_or_addresses_a_fixed_issuer_verified(user, admins, issuer, admin):
    assert access.is_admin(user, admins, issuer) is admin
