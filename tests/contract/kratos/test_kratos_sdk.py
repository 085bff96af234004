"""Kratos wire-compatibility contract: Lanyard driven by the official Ory SDK.

Every test creates its own identity (unique email) and its own sessions, so the
tests do not depend on each other or on their order.  Session fixtures come
from the Lanyard admin extension `POST /admin/lanyard/sessions` (see conftest).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

import pytest

from ory_kratos_client.exceptions import (
    ApiException,
    BadRequestException,
    ConflictException,
    NotFoundException,
    UnauthorizedException,
)
from ory_kratos_client.models.authenticator_assurance_level import AuthenticatorAssuranceLevel
from ory_kratos_client.models.create_identity_body import CreateIdentityBody
from ory_kratos_client.models.delete_my_sessions_count import DeleteMySessionsCount
from ory_kratos_client.models.identity import Identity
from ory_kratos_client.models.json_patch import JsonPatch
from ory_kratos_client.models.perform_native_logout_body import PerformNativeLogoutBody
from ory_kratos_client.models.session import Session
from ory_kratos_client.models.update_identity_body import UpdateIdentityBody
import ory_kratos_client


UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # well-formed, never issued
MAX_PAGES = 500  # safety net for page walks


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex}@contract.example.com"


# --------------------------------------------------------------------------- helpers


def header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    """Case-insensitive header lookup.

    `ApiResponse.headers` is a plain dict built from urllib3's HTTPHeaderDict:
    keys keep the server's spelling (hyper sends lower case) and a header sent
    several times keeps only its LAST value.
    """
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')


def parse_link(value: Optional[str]) -> Dict[str, str]:
    """`<url>; rel="first",<url>; rel="next"` -> {"first": url, "next": url}."""
    return {rel: url for url, rel in _LINK_RE.findall(value or "")}


def query_param(url: str, name: str) -> Optional[str]:
    """Percent-decode one query parameter WITHOUT turning '+' into a space."""
    for part in urlsplit(url).query.split("&"):
        k, _, v = part.partition("=")
        if unquote(k) == name:
            return unquote(v)
    return None


def api_error(exc: ApiException) -> Dict[str, Any]:
    """The Kratos error object (`{"error": {...}}`) of a failed SDK call."""
    assert exc.body, f"HTTP {exc.status} without a body"
    doc = json.loads(exc.body)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), doc
    return doc["error"]


def expect_status(status: int, fn, *args, **kwargs) -> ApiException:
    with pytest.raises(ApiException) as info:
        fn(*args, **kwargs)
    assert info.value.status == status, f"expected HTTP {status}, got {info.value.status}: {info.value.body}"
    err = api_error(info.value)
    assert err.get("code") == status, err
    assert isinstance(err.get("message"), str) and err["message"], err
    return info.value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def assert_aware(dt: Optional[datetime], what: str) -> datetime:
    assert dt is not None, f"{what} missing"
    assert dt.tzinfo is not None and dt.utcoffset() is not None, f"{what} has no UTC offset: {dt!r}"
    return dt


def close_to(a: datetime, b: datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


def walk_admin_sessions(identity_api, page_size: int, **kwargs) -> Tuple[List[Session], List[Dict[str, str]]]:
    """Follow `GET /admin/sessions` keyset pages via the Link header's `next`."""
    sessions: List[Session] = []
    links_seen: List[Dict[str, str]] = []
    token: Optional[str] = None
    for _ in range(MAX_PAGES):
        resp = identity_api.list_sessions_with_http_info(page_size=page_size, page_token=token, **kwargs)
        assert resp.status_code == 200
        page = resp.data
        assert isinstance(page, list)
        assert len(page) <= page_size, f"page of {len(page)} > page_size {page_size}"
        sessions.extend(page)
        links = parse_link(header(resp.headers, "Link"))
        links_seen.append(links)
        assert "first" in links, f"Link header without rel=first: {resp.headers}"
        nxt = links.get("next")
        if not nxt:
            return sessions, links_seen
        assert page, "rel=next on an empty page"
        token = query_param(nxt, "page_token")
        assert token, f"rel=next without page_token: {nxt}"
        assert query_param(nxt, "page_size") == str(page_size), nxt
    pytest.fail(f"more than {MAX_PAGES} pages")


def walk_identity_sessions(identity_api, identity_id: str, page_size: int, **kwargs):
    sessions: List[Session] = []
    totals: List[Optional[str]] = []
    token: Optional[str] = None
    for _ in range(MAX_PAGES):
        resp = identity_api.list_identity_sessions_with_http_info(
            identity_id, page_size=page_size, page_token=token, **kwargs
        )
        assert resp.status_code == 200
        assert len(resp.data) <= page_size
        sessions.extend(resp.data)
        totals.append(header(resp.headers, "X-Total-Count"))
        nxt = parse_link(header(resp.headers, "Link")).get("next")
        if not nxt or not resp.data:
            return sessions, totals
        token = query_param(nxt, "page_token")
        assert token, nxt
    pytest.fail(f"more than {MAX_PAGES} pages")


def find_session(identity_api, session_id: str, **kwargs) -> Optional[Session]:
    sessions, _ = walk_admin_sessions(identity_api, page_size=250, **kwargs)
    for s in sessions:
        if s.id == session_id:
            return s
    return None


# --------------------------------------------------------------------------- identities


def test_create_identity_returns_201_with_kratos_identity(identity_api):
    email = unique_email("create")
    body = CreateIdentityBody(
        schema_id="default",
        traits={"email": email, "name": "Ada Lovelace"},
        credentials=ory_kratos_client.IdentityWithCredentials(
            password=ory_kratos_client.IdentityWithCredentialsPassword(
                config=ory_kratos_client.IdentityWithCredentialsPasswordConfig(password="Xy-9-long-enough-pw")
            )
        ),
    )
    resp = identity_api.create_identity_with_http_info(create_identity_body=body)
    assert resp.data is not None, f"HTTP {resp.status_code} without an identity"
    try:
        assert resp.status_code == 201
        ident = resp.data
        assert isinstance(ident, Identity)
        uuid.UUID(ident.id)
        assert ident.schema_id == "default"
        assert isinstance(ident.schema_url, str) and ident.schema_url
        assert ident.traits["email"] == email
        assert ident.traits["name"] == "Ada Lovelace"
        assert ident.state == "active"
        assert_aware(ident.created_at, "created_at")
        assert_aware(ident.updated_at, "updated_at")
        raw = json.loads(resp.raw_data)
        # the cleartext password never comes back
        assert "Xy-9-long-enough-pw" not in resp.raw_data.decode()
        assert "password" not in json.dumps(raw.get("traits"))
        fetched = identity_api.get_identity(ident.id)
        assert fetched.id == ident.id and fetched.traits["email"] == email
    finally:
        identity_api.delete_identity(resp.data.id)


def test_duplicate_identifier_is_409_case_insensitive(identity_api, make_identity):
    email = unique_email("dup")
    make_identity(email)
    with pytest.raises(ConflictException) as info:
        make_identity(email.upper())
    assert info.value.status == 409
    assert api_error(info.value)["code"] == 409


def test_create_identity_invalid_traits_is_400(identity_api):
    bad_bodies = [
        CreateIdentityBody(schema_id="default", traits={"email": "not-an-email"}),
        CreateIdentityBody(schema_id="default", traits={"name": "no email at all"}),
    ]
    for body in bad_bodies:
        exc = expect_status(400, identity_api.create_identity, create_identity_body=body)
        assert isinstance(exc, BadRequestException)


def test_get_identity_unknown_is_404_and_bad_uuid_is_400(identity_api):
    exc = expect_status(404, identity_api.get_identity, UNKNOWN_ID)
    assert isinstance(exc, NotFoundException)
    err = api_error(exc)
    assert err.get("status") == "Not Found", err
    expect_status(400, identity_api.get_identity, "not-a-uuid")


def test_list_identities_keyset_pages_cover_each_identity_once(identity_api, make_identity):
    mine = {make_identity().id for _ in range(5)}
    seen: List[str] = []
    token: Optional[str] = None
    for _ in range(MAX_PAGES):
        resp = identity_api.list_identities_with_http_info(page_size=2, page_token=token)
        assert resp.status_code == 200
        assert len(resp.data) <= 2
        seen.extend(i.id for i in resp.data)
        links = parse_link(header(resp.headers, "Link"))
        nxt = links.get("next")
        if not nxt or not resp.data:
            break
        token = query_param(nxt, "page_token")
        assert token, nxt
    else:
        pytest.fail("identity pagination did not end")
    assert len(seen) == len(set(seen)), "an identity was listed twice"
    assert mine <= set(seen), f"missing: {mine - set(seen)}"
    assert seen == sorted(seen), "identities are keyset-ordered by id ascending"


def test_update_identity_put_replaces_traits_and_enforces_unique_identifiers(identity_api, make_identity):
    other = make_identity()
    ident = make_identity()
    new_traits = {"email": ident.traits["email"], "username": f"u{uuid.uuid4().hex[:12]}", "name": "Renamed"}
    updated = identity_api.update_identity(
        ident.id,
        update_identity_body=UpdateIdentityBody(schema_id="default", traits=new_traits, state="active"),
    )
    assert updated.id == ident.id
    assert updated.traits["username"] == new_traits["username"]
    assert updated.traits["name"] == "Renamed"
    assert identity_api.get_identity(ident.id).traits["name"] == "Renamed"

    # Taking another identity's email (different case) conflicts.
    clash = dict(new_traits, email=other.traits["email"].upper())
    expect_status(
        409,
        identity_api.update_identity,
        ident.id,
        update_identity_body=UpdateIdentityBody(schema_id="default", traits=clash, state="active"),
    )
    expect_status(
        404,
        identity_api.update_identity,
        UNKNOWN_ID,
        update_identity_body=UpdateIdentityBody(schema_id="default", traits=new_traits, state="active"),
    )


def test_patch_identity_applies_json_patch(identity_api, make_identity):
    ident = make_identity()
    patched = identity_api.patch_identity(
        ident.id, json_patch=[JsonPatch(op="add", path="/traits/name", value="Patched Name")]
    )
    assert patched.traits["name"] == "Patched Name"
    assert patched.traits["email"] == ident.traits["email"]
    # A patch that breaks the schema is rejected and changes nothing.
    expect_status(
        400,
        identity_api.patch_identity,
        ident.id,
        json_patch=[JsonPatch(op="replace", path="/traits/email", value="not-an-email")],
    )
    assert identity_api.get_identity(ident.id).traits["email"] == ident.traits["email"]


def test_delete_identity_removes_it_and_its_sessions(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id)
    assert frontend_api.to_session(x_session_token=s.token).id == s.id
    resp = identity_api.delete_identity_with_http_info(ident.id)
    assert resp.status_code == 204
    assert resp.data is None
    expect_status(404, identity_api.get_identity, ident.id)
    expect_status(404, identity_api.get_session, s.id)
    expect_status(401, frontend_api.to_session, x_session_token=s.token)
    expect_status(404, identity_api.delete_identity, ident.id)


def test_inactive_identity_makes_its_sessions_inactive(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    s1 = issue_session(ident.id)
    s2 = issue_session(ident.id)
    assert frontend_api.to_session(x_session_token=s1.token).active is True

    body = UpdateIdentityBody(schema_id="default", traits=ident.traits, state="inactive")
    assert identity_api.update_identity(ident.id, update_identity_body=body).state == "inactive"

    for s in (s1, s2):
        expect_status(401, frontend_api.to_session, x_session_token=s.token)
        assert identity_api.get_session(s.id, expand=["identity"]).active is False
    listed = identity_api.list_identity_sessions(ident.id)
    assert {x.id for x in listed} == {s1.id, s2.id}
    assert all(x.active is False for x in listed)
    assert identity_api.list_identity_sessions(ident.id, active=True) == []

    # Nothing was written to the sessions: reactivating brings them back.
    body = UpdateIdentityBody(schema_id="default", traits=ident.traits, state="active")
    identity_api.update_identity(ident.id, update_identity_body=body)
    assert frontend_api.to_session(x_session_token=s1.token).id == s1.id


# --------------------------------------------------------------------------- admin sessions


def test_issued_session_has_kratos_session_shape(identity_api, make_identity, issue_session):
    ident = make_identity()
    before = utcnow()
    s = issue_session(ident.id, lifespan="1h")
    assert re.fullmatch(r"lanyard_st_[A-Za-z0-9_-]{43}", s.token), s.token
    assert s.token not in json.dumps(s.body), "the token must not be serialised in the session"

    sess = Session.from_dict(s.body)  # the extension's session is SDK-parseable
    uuid.UUID(sess.id)
    assert sess.active is True
    assert sess.authenticator_assurance_level == AuthenticatorAssuranceLevel.AAL1
    assert [m.method for m in sess.authentication_methods] == ["password"]
    assert sess.authentication_methods[0].aal == AuthenticatorAssuranceLevel.AAL1
    assert_aware(sess.authentication_methods[0].completed_at, "completed_at")
    assert sess.identity is not None and sess.identity.id == ident.id
    assert sess.devices and sess.devices[0].ip_address == "203.0.113.7"
    assert sess.devices[0].user_agent == "contract-test"
    assert sess.devices[0].location == "Berlin, DE"

    issued = assert_aware(sess.issued_at, "issued_at")
    authenticated = assert_aware(sess.authenticated_at, "authenticated_at")
    expires = assert_aware(sess.expires_at, "expires_at")
    assert close_to(issued, before, 30) and close_to(authenticated, issued, 5)
    assert close_to(expires, issued + timedelta(hours=1), 5)

    # The same session read back through the SDK.
    got = identity_api.get_session(s.id, expand=["identity", "devices"])
    assert got.id == s.id and got.identity.id == ident.id
    assert close_to(got.expires_at, expires, 0.001)


def test_issue_session_default_lifespan_is_24h(make_identity, issue_session):
    s = issue_session(make_identity().id, lifespan=None)
    sess = Session.from_dict(s.body)
    assert close_to(sess.expires_at, sess.issued_at + timedelta(hours=24), 5)


def test_issue_session_aal2_from_methods(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    totp_at = "2025-01-02T03:04:05Z"
    s = issue_session(
        ident.id,
        methods=[
            {"method": "password", "aal": "aal1"},
            {"method": "totp", "aal": "aal2", "completed_at": totp_at},
        ],
    )
    got = identity_api.get_session(s.id)
    assert got.authenticator_assurance_level == AuthenticatorAssuranceLevel.AAL2
    assert [(m.method, m.aal) for m in got.authentication_methods] == [
        ("password", AuthenticatorAssuranceLevel.AAL1),
        ("totp", AuthenticatorAssuranceLevel.AAL2),
    ]
    assert got.authentication_methods[1].completed_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert frontend_api.to_session(x_session_token=s.token).authenticator_assurance_level == "aal2"


def test_issue_session_unknown_identity_is_rejected(issue_session):
    s = issue_session(UNKNOWN_ID, expect_status=None)
    assert s.status in (400, 404), s
    assert s.body.get("error", {}).get("code") == s.status


def test_get_session_expand(identity_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id)

    plain = identity_api.get_session_with_http_info(s.id)
    assert plain.status_code == 200
    assert plain.data.id == s.id and plain.data.active is True
    assert plain.data.identity is None
    assert not plain.data.devices  # [] (Kratos) or null
    raw = json.loads(plain.raw_data)
    assert raw.get("identity") is None

    with_identity = identity_api.get_session(s.id, expand=["identity"])
    assert with_identity.identity.id == ident.id
    assert with_identity.identity.traits["email"] == ident.traits["email"]
    assert with_identity.identity.credentials is None, "sessions never carry credentials"
    assert not with_identity.devices

    with_devices = identity_api.get_session(s.id, expand=["devices"])
    assert with_devices.identity is None
    assert len(with_devices.devices) == 1
    d = with_devices.devices[0]
    uuid.UUID(d.id)
    assert (d.ip_address, d.user_agent, d.location) == ("203.0.113.7", "contract-test", "Berlin, DE")

    both = identity_api.get_session(s.id, expand=["identity", "devices"])
    assert both.identity.id == ident.id and len(both.devices) == 1

    # An unknown expand value is a 400 naming the option.
    expect_status(400, identity_api.get_session, s.id, expand=["nonsense"])


def test_get_session_errors(identity_api):
    exc = expect_status(404, identity_api.get_session, UNKNOWN_ID)
    assert isinstance(exc, NotFoundException)
    assert api_error(exc).get("status") == "Not Found"
    expect_status(400, identity_api.get_session, "not-a-uuid")


def test_list_sessions_walks_all_pages_exactly_once(identity_api, make_identity, issue_session):
    ident = make_identity()
    created = [issue_session(ident.id).id for _ in range(10)]

    sessions, links = walk_admin_sessions(identity_api, page_size=3)
    ids = [s.id for s in sessions]
    assert len(ids) == len(set(ids)), "a session was listed twice across pages"
    for sid in created:
        assert ids.count(sid) == 1, f"session {sid} seen {ids.count(sid)} times"
    assert len(links) >= 4, "10 sessions at 3 per page need at least 4 pages"
    assert "next" not in links[-1]
    assert all("next" in l for l in links[:-1])

    # Newest first: our sessions come back in reverse creation order.
    mine = [i for i in ids if i in set(created)]
    assert mine == list(reversed(created))
    # Unexpanded list items have no identity.
    assert all(s.identity is None for s in sessions)


def test_list_sessions_link_header_first_and_next(identity_api, make_identity, issue_session):
    ident = make_identity()
    issue_session(ident.id)
    issue_session(ident.id)
    resp = identity_api.list_sessions_with_http_info(page_size=1)
    assert resp.status_code == 200 and len(resp.data) == 1
    links = parse_link(header(resp.headers, "Link"))
    assert set(links) >= {"first", "next"}, header(resp.headers, "Link")
    assert query_param(links["first"], "page_size") == "1"
    assert query_param(links["next"], "page_size") == "1"
    # The next page starts after the first one.
    second = identity_api.list_sessions(page_size=1, page_token=query_param(links["next"], "page_token"))
    assert len(second) == 1 and second[0].id != resp.data[0].id


def test_list_sessions_expand(identity_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id)

    plain = find_session(identity_api, s.id)
    assert plain is not None and plain.identity is None and not plain.devices

    expanded = find_session(identity_api, s.id, expand=["identity", "devices"])
    assert expanded is not None
    assert expanded.identity is not None and expanded.identity.id == ident.id
    assert [(d.ip_address, d.user_agent, d.location) for d in expanded.devices] == [
        ("203.0.113.7", "contract-test", "Berlin, DE")
    ]

    only_identity = find_session(identity_api, s.id, expand=["identity"])
    assert only_identity.identity.id == ident.id


def test_list_sessions_active_filter(identity_api, make_identity, issue_session):
    ident = make_identity()
    live = issue_session(ident.id)
    dead = issue_session(ident.id)
    identity_api.disable_session(dead.id)

    active_ids = {s.id for s in walk_admin_sessions(identity_api, 250, active=True)[0]}
    inactive = walk_admin_sessions(identity_api, 250, active=False)[0]
    inactive_ids = {s.id for s in inactive}
    assert live.id in active_ids and live.id not in inactive_ids
    assert dead.id in inactive_ids and dead.id not in active_ids
    assert all(s.active is False for s in inactive)


def test_list_sessions_bad_page_token_is_400(identity_api):
    exc = expect_status(400, identity_api.list_sessions, page_size=3, page_token="definitely-not-a-token")
    assert isinstance(exc, BadRequestException)
    # A mapped 400 is parsed into the SDK's ErrorGeneric model.
    assert exc.data is not None and exc.data.error.code == 400


def test_extend_session_returns_session_with_later_expiry(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id, lifespan="1h")
    old_expiry = Session.from_dict(s.body).expires_at

    resp = identity_api.extend_session_with_http_info(s.id)
    assert resp.status_code == 200, "extend must answer 200 + session (the SDK returns None on 204)"
    extended = resp.data
    assert isinstance(extended, Session) and extended.id == s.id
    assert extended.active is True
    assert extended.expires_at > old_expiry + timedelta(minutes=30)
    assert close_to(extended.expires_at, utcnow() + timedelta(hours=24), 60)

    assert close_to(identity_api.get_session(s.id).expires_at, extended.expires_at, 0.001)
    # No stale cached copy: whoami sees the new expiry at once.
    assert close_to(frontend_api.to_session(x_session_token=s.token).expires_at, extended.expires_at, 0.001)

    expect_status(404, identity_api.extend_session, UNKNOWN_ID)
    expect_status(400, identity_api.extend_session, "not-a-uuid")


def test_disable_session_makes_it_inactive(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id)
    keep = issue_session(ident.id)

    resp = identity_api.disable_session_with_http_info(s.id)
    assert resp.status_code == 204 and resp.data is None
    got = identity_api.get_session(s.id)
    assert got.id == s.id and got.active is False  # kept, not deleted
    expect_status(401, frontend_api.to_session, x_session_token=s.token)
    assert frontend_api.to_session(x_session_token=keep.token).id == keep.id

    # Disabling an already inactive session is still 204.
    assert identity_api.disable_session_with_http_info(s.id).status_code == 204
    expect_status(404, identity_api.disable_session, UNKNOWN_ID)
    expect_status(400, identity_api.disable_session, "not-a-uuid")


def test_list_identity_sessions_filters_and_pages(identity_api, make_identity, issue_session):
    ident = make_identity()
    other = make_identity()
    issue_session(other.id)
    mine = [issue_session(ident.id).id for _ in range(3)]
    identity_api.disable_session(mine[0])

    everything = identity_api.list_identity_sessions(ident.id)
    assert sorted(s.id for s in everything) == sorted(mine)
    # Identity and devices are always expanded here.
    assert all(s.identity is not None and s.identity.id == ident.id for s in everything)
    assert all(s.devices and s.devices[0].ip_address == "203.0.113.7" for s in everything)
    # Newest first.
    assert [s.id for s in everything] == list(reversed(mine))

    active = identity_api.list_identity_sessions(ident.id, active=True)
    assert sorted(s.id for s in active) == sorted(mine[1:])
    inactive = identity_api.list_identity_sessions(ident.id, active=False)
    assert [s.id for s in inactive] == [mine[0]]

    paged, totals = walk_identity_sessions(identity_api, ident.id, page_size=2)
    ids = [s.id for s in paged]
    assert sorted(ids) == sorted(mine) and len(ids) == 3, ids
    assert totals[0] == "3", f"X-Total-Count: {totals}"


def test_list_identity_sessions_errors(identity_api):
    exc = expect_status(404, identity_api.list_identity_sessions, UNKNOWN_ID)
    assert isinstance(exc, NotFoundException)
    expect_status(400, identity_api.list_identity_sessions, "not-a-uuid")


def test_delete_identity_sessions_removes_them(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    bystander = issue_session(make_identity().id)
    s1 = issue_session(ident.id)
    s2 = issue_session(ident.id)

    resp = identity_api.delete_identity_sessions_with_http_info(ident.id)
    assert resp.status_code == 204 and resp.data is None
    for s in (s1, s2):
        expect_status(404, identity_api.get_session, s.id)
        expect_status(401, frontend_api.to_session, x_session_token=s.token)
    assert identity_api.list_identity_sessions(ident.id) == []
    assert frontend_api.to_session(x_session_token=bystander.token).id == bystander.id

    # An existing identity without sessions: still 204.
    assert identity_api.delete_identity_sessions_with_http_info(ident.id).status_code == 204
    expect_status(404, identity_api.delete_identity_sessions, UNKNOWN_ID)
    expect_status(400, identity_api.delete_identity_sessions, "not-a-uuid")


def test_admin_api_requires_the_admin_key(target, raw_http, make_admin_client, make_identity, issue_session):
    s = issue_session(make_identity().id)

    for client in (make_admin_client(None), make_admin_client("wrong-" + uuid.uuid4().hex)):
        api = ory_kratos_client.IdentityApi(client)
        exc = expect_status(401, api.list_sessions)
        assert isinstance(exc, UnauthorizedException)
        expect_status(401, api.get_session, s.id)
        expect_status(401, api.list_identities)

    # Bare `Authorization: <key>` (SDK default without api_key_prefix) also works.
    bare = ory_kratos_client.IdentityApi(make_admin_client(target.admin_key, prefix=None))
    assert bare.get_session(s.id).id == s.id

    # The extension is guarded too.
    status, _, body = raw_http(
        "POST",
        f"{target.admin_url}/admin/lanyard/sessions",
        {"identity_id": s.body["identity"]["id"], "methods": [{"method": "password"}]},
        {"Authorization": "Bearer wrong-key"},
    )
    assert status == 401 and body["error"]["code"] == 401


# --------------------------------------------------------------------------- public API


def test_whoami_returns_the_session_with_identity(frontend_api, make_identity, issue_session):
    ident = make_identity(name="Who Am I")
    s = issue_session(ident.id)
    resp = frontend_api.to_session_with_http_info(x_session_token=s.token)
    assert resp.status_code == 200
    me = resp.data
    assert me.id == s.id and me.active is True
    assert me.authenticator_assurance_level == "aal1"
    assert me.identity.id == ident.id
    assert me.identity.traits["email"] == ident.traits["email"]
    assert me.identity.traits["name"] == "Who Am I"
    assert me.identity.credentials is None
    assert me.devices and me.devices[0].ip_address == "203.0.113.7"
    assert_aware(me.expires_at, "expires_at")
    assert header(resp.headers, "X-Kratos-Authenticated-Identity-Id") == ident.id
    raw = json.loads(resp.raw_data)
    assert "credentials" not in raw["identity"]
    assert "metadata_admin" not in raw["identity"]
    assert s.token not in resp.raw_data.decode()


def test_whoami_accepts_bearer_authorization(frontend_api, make_identity, issue_session):
    s = issue_session(make_identity().id)
    me = frontend_api.to_session(_headers={"Authorization": f"Bearer {s.token}"})
    assert me.id == s.id


def test_whoami_bad_token_is_401(frontend_api):
    for token in ("lanyard_st_" + "A" * 43, "garbage", "ory_st_" + "x" * 32):
        exc = expect_status(401, frontend_api.to_session, x_session_token=token)
        assert isinstance(exc, UnauthorizedException)
        err = api_error(exc)
        assert err.get("status") == "Unauthorized"
        assert err.get("id") == "session_inactive"
    # No credentials at all.
    expect_status(401, frontend_api.to_session)


def test_expired_session_is_inactive(identity_api, frontend_api, make_identity, issue_session):
    s = issue_session(make_identity().id, lifespan="1s")
    time.sleep(1.3)
    expect_status(401, frontend_api.to_session, x_session_token=s.token)
    assert identity_api.get_session(s.id).active is False


def test_list_my_sessions_returns_my_other_active_sessions(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    current = issue_session(ident.id)
    other_active = issue_session(ident.id)
    other_dead = issue_session(ident.id)
    identity_api.disable_session(other_dead.id)
    stranger = issue_session(make_identity().id)

    resp = frontend_api.list_my_sessions_with_http_info(x_session_token=current.token)
    assert resp.status_code == 200
    assert [s.id for s in resp.data] == [other_active.id]
    assert resp.data[0].active is True
    assert resp.data[0].identity.id == ident.id
    assert stranger.id not in {s.id for s in resp.data}

    expect_status(401, frontend_api.list_my_sessions, x_session_token="garbage")


def test_disable_my_other_sessions_counts_only_active_ones(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    current = issue_session(ident.id)
    other1 = issue_session(ident.id)
    other2 = issue_session(ident.id)
    already_dead = issue_session(ident.id)
    identity_api.disable_session(already_dead.id)
    stranger = issue_session(make_identity().id)

    result = frontend_api.disable_my_other_sessions(x_session_token=current.token)
    assert isinstance(result, DeleteMySessionsCount)
    assert result.count == 2
    for s in (other1, other2):
        expect_status(401, frontend_api.to_session, x_session_token=s.token)
        assert identity_api.get_session(s.id).active is False
    assert frontend_api.to_session(x_session_token=current.token).id == current.id
    assert frontend_api.to_session(x_session_token=stranger.token).id == stranger.id
    assert frontend_api.list_my_sessions(x_session_token=current.token) == []

    assert frontend_api.disable_my_other_sessions(x_session_token=current.token).count == 0
    expect_status(401, frontend_api.disable_my_other_sessions, x_session_token="garbage")


def test_disable_my_session(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    current = issue_session(ident.id)
    other = issue_session(ident.id)
    stranger = issue_session(make_identity().id)

    resp = frontend_api.disable_my_session_with_http_info(other.id, x_session_token=current.token)
    assert resp.status_code == 204 and resp.data is None
    expect_status(401, frontend_api.to_session, x_session_token=other.token)
    assert identity_api.get_session(other.id).active is False
    assert frontend_api.to_session(x_session_token=current.token).id == current.id

    # Someone else's session: 204 (idempotent, no oracle) and it stays active.
    assert frontend_api.disable_my_session_with_http_info(stranger.id, x_session_token=current.token).status_code == 204
    assert frontend_api.to_session(x_session_token=stranger.token).id == stranger.id
    # Unknown id: 204 as well.
    assert frontend_api.disable_my_session_with_http_info(UNKNOWN_ID, x_session_token=current.token).status_code == 204
    # The current session cannot be revoked here (use logout).
    expect_status(400, frontend_api.disable_my_session, current.id, x_session_token=current.token)
    expect_status(401, frontend_api.disable_my_session, other.id, x_session_token="garbage")


def test_perform_native_logout(identity_api, frontend_api, make_identity, issue_session):
    ident = make_identity()
    s = issue_session(ident.id)
    keep = issue_session(ident.id)

    resp = frontend_api.perform_native_logout_with_http_info(PerformNativeLogoutBody(session_token=s.token))
    assert resp.status_code == 204 and resp.data is None
    expect_status(401, frontend_api.to_session, x_session_token=s.token)
    assert identity_api.get_session(s.id).active is False
    assert frontend_api.to_session(x_session_token=keep.token).id == keep.id


def test_error_bodies_use_the_kratos_error_format(target, raw_http):
    status, headers, body = raw_http(
        "GET",
        f"{target.admin_url}/admin/sessions/{UNKNOWN_ID}",
        headers={"Authorization": f"Bearer {target.admin_key}"},
    )
    assert status == 404
    assert headers.get("Content-Type", "").startswith("application/json")
    err = body["error"]
    assert err["code"] == 404 and err["status"] == "Not Found"
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err.get("reason", ""), str)
