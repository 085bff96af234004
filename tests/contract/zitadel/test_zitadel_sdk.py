"""ZITADEL Session Service v2 contract: Lanyard driven by the official `zitadel-client` SDK.

Every session call goes through the SDK (Connect paths, JSON, Bearer PAT = a Lanyard
API key, or a session token). Each test creates its own identities (unique email and
username), so the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Set

import pytest

from zitadel_client.exceptions import ApiError
from zitadel_client.models import (
    SessionServiceCheckIDPIntent,
    SessionServiceCheckOTP,
    SessionServiceOTPEmail,
    SessionServiceOTPSMS,
    SessionServiceRequestChallenges,
    SessionServiceCheckPassword,
    SessionServiceCheckRecoveryCode,
    SessionServiceChecks,
    SessionServiceCheckTOTP,
    SessionServiceCheckUser,
    SessionServiceCheckWebAuthN,
    SessionServiceCreateSessionRequest,
    SessionServiceCreateSessionResponse,
    SessionServiceCreationDateQuery,
    SessionServiceCreatorQuery,
    SessionServiceDeleteSessionRequest,
    SessionServiceDeleteSessionResponse,
    SessionServiceExpirationDateQuery,
    SessionServiceGetSessionRequest,
    SessionServiceGetSessionResponse,
    SessionServiceHeaderValues,
    SessionServiceIDsQuery,
    SessionServiceListQuery,
    SessionServiceListSessionsRequest,
    SessionServiceListSessionsResponse,
    SessionServiceSearchQuery,
    SessionServiceSession,
    SessionServiceSessionFieldName,
    SessionServiceSetSessionRequest,
    SessionServiceSetSessionResponse,
    SessionServiceTimestampQueryMethod as Method,
    SessionServiceUserAgent,
    SessionServiceUserAgentQuery,
    SessionServiceUserIDQuery,
)

CREATION_DATE = SessionServiceSessionFieldName.SESSION_FIELD_NAME_CREATION_DATE

# Connect error code -> HTTP status (connectrpc.com/docs/protocol#error-codes).
CONNECT_STATUS = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}

# A failed credential check: ZITADEL answers InvalidArgument (COMMAND-3M0fs); a
# server may also treat it as PermissionDenied or FailedPrecondition.
CHECK_FAILED = {"invalid_argument", "permission_denied", "failed_precondition"}

TIMESTAMP_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
CLOCK_SLACK = 60.0  # seconds between the test's clock and the server's


# --------------------------------------------------------------------------- helpers


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(dt: Optional[datetime], what: str) -> datetime:
    assert dt is not None, f"{what} is missing"
    assert isinstance(dt, datetime), f"{what}: {dt!r}"
    assert dt.tzinfo is not None and dt.utcoffset() is not None, f"{what} has no zone: {dt!r}"
    return dt


def near(dt: Optional[datetime], expected: datetime, what: str, slack: float = CLOCK_SLACK) -> datetime:
    dt = aware(dt, what)
    assert abs((dt - expected).total_seconds()) <= slack, f"{what} = {dt}, expected about {expected}"
    return dt


def uint64(value: Any, what: str) -> int:
    """proto3 JSON sends uint64 as a decimal string; the SDK keeps the raw value (`Any`)."""
    assert isinstance(value, str), f"{what} must be a uint64 JSON string, got {value!r}"
    assert value.isdigit(), f"{what} = {value!r}"
    return int(value)


def b64(data: bytes) -> str:
    """The SDK does not base64-encode `bytes` (json.dumps fails on them): callers pass base64 text."""
    return base64.b64encode(data).decode("ascii")


def connect_error(exc: ApiError) -> Dict[str, Any]:
    body = exc.response_body
    assert isinstance(body, dict), (
        f"HTTP {exc.code}: the error body must be Connect error JSON with Content-Type "
        f"application/json, got {body!r} (headers {exc.response_headers})"
    )
    code = body.get("code")
    assert isinstance(code, str) and code in CONNECT_STATUS, f"Connect code: {body}"
    assert CONNECT_STATUS[code] == exc.code, (
        f"code {code!r} must travel with HTTP {CONNECT_STATUS[code]}, got {exc.code}: {body}"
    )
    assert isinstance(body.get("message"), str) and body["message"].strip(), f"message says what was wrong: {body}"
    return body


def expect_error(codes: Iterable[str] | str, fn, *args, **kwargs) -> Dict[str, Any]:
    wanted = {codes} if isinstance(codes, str) else set(codes)
    with pytest.raises(ApiError) as info:
        result = fn(*args, **kwargs)
        pytest.fail(f"expected a Connect error {sorted(wanted)}, got a response: {result!r}")  # pragma: no cover
    body = connect_error(info.value)
    assert body["code"] in wanted, f"expected {sorted(wanted)}, got HTTP {info.value.code}: {body}"
    return body


# --- requests


def user_check(
    user=None, *, user_id: Optional[str] = None, login_name: Optional[str] = None
) -> SessionServiceCheckUser:
    if user is not None and user_id is None and login_name is None:
        user_id = user.id
    return SessionServiceCheckUser(user_id=user_id, login_name=login_name)


def password_checks(user, *, login_name: Optional[str] = None, password: Optional[str] = None) -> SessionServiceChecks:
    return SessionServiceChecks(
        user=user_check(user, login_name=login_name),
        password=SessionServiceCheckPassword(password=password if password is not None else user.password),
    )


def create(sdk, checks: Optional[SessionServiceChecks] = None, **kwargs) -> SessionServiceCreateSessionResponse:
    resp = sdk.sessions.create_session(SessionServiceCreateSessionRequest(checks=checks, **kwargs))
    assert isinstance(resp, SessionServiceCreateSessionResponse), resp
    assert isinstance(resp.session_id, str) and resp.session_id, f"sessionId: {resp}"
    assert isinstance(resp.session_token, str) and 0 < len(resp.session_token) <= 200, f"sessionToken: {resp}"
    return resp


def login(sdk, user, **kwargs) -> SessionServiceCreateSessionResponse:
    """CreateSession with the user and password checks."""
    return create(sdk, password_checks(user), **kwargs)


def set_session(sdk, session_id: str, **kwargs) -> SessionServiceSetSessionResponse:
    resp = sdk.sessions.set_session(SessionServiceSetSessionRequest(session_id=session_id, **kwargs))
    assert isinstance(resp, SessionServiceSetSessionResponse), resp
    assert isinstance(resp.session_token, str) and 0 < len(resp.session_token) <= 200, (
        f"every successful SetSession returns a new sessionToken: {resp}"
    )
    return resp


def get(sdk, session_id: str, token: Optional[str] = None) -> SessionServiceSession:
    resp = sdk.sessions.get_session(SessionServiceGetSessionRequest(session_id=session_id, session_token=token))
    assert isinstance(resp, SessionServiceGetSessionResponse), resp
    assert isinstance(resp.session, SessionServiceSession), f"GetSession without a session: {resp}"
    assert resp.session.id == session_id
    return resp.session


# NB: get()/delete() pass session_token=None explicitly, so the SDK sends `"sessionToken": null`
# (nullable fields that were set are serialised as null): the server must read null as absent.


def delete(sdk, session_id: str, token: Optional[str] = None) -> SessionServiceDeleteSessionResponse:
    resp = sdk.sessions.delete_session(
        SessionServiceDeleteSessionRequest(session_id=session_id, session_token=token)
    )
    assert isinstance(resp, SessionServiceDeleteSessionResponse), resp
    return resp


def list_sessions(
    sdk,
    *queries: SessionServiceSearchQuery,
    sort: Optional[SessionServiceSessionFieldName] = None,
    query: Optional[SessionServiceListQuery] = None,
) -> SessionServiceListSessionsResponse:
    resp = sdk.sessions.list_sessions(
        SessionServiceListSessionsRequest(query=query, queries=list(queries) or None, sorting_column=sort)
    )
    assert isinstance(resp, SessionServiceListSessionsResponse), resp
    assert resp.details is not None, f"ListSessions without details: {resp}"
    return resp


def ids_of(resp: SessionServiceListSessionsResponse) -> List[str]:
    return [s.id for s in resp.sessions or []]


def total(resp: SessionServiceListSessionsResponse) -> int:
    """`details.totalResult`; absent means 0 (ZITADEL omits it on an empty result)."""
    if resp.details.total_result is None:
        return 0
    return uint64(resp.details.total_result, "details.totalResult")


def q_ids(*ids: str) -> SessionServiceSearchQuery:
    return SessionServiceSearchQuery(ids_query=SessionServiceIDsQuery(ids=list(ids)))


def q_user(user_id: str) -> SessionServiceSearchQuery:
    return SessionServiceSearchQuery(user_id_query=SessionServiceUserIDQuery(id=user_id))


def q_created(method: Method, at: datetime) -> SessionServiceSearchQuery:
    return SessionServiceSearchQuery(
        creation_date_query=SessionServiceCreationDateQuery(creation_date=at, method=method)
    )


def q_expires(method: Method, at: datetime) -> SessionServiceSearchQuery:
    return SessionServiceSearchQuery(
        expiration_date_query=SessionServiceExpirationDateQuery(expiration_date=at, method=method)
    )


def q_fingerprint(fingerprint_id: str) -> SessionServiceSearchQuery:
    return SessionServiceSearchQuery(user_agent_query=SessionServiceUserAgentQuery(fingerprint_id=fingerprint_id))


def assert_session_wire(raw_session: Dict[str, Any]) -> None:
    """proto3 JSON rules the SDK cannot see: uint64 as strings, UTC `Z` timestamps, no nulls."""
    for name in ("creationDate", "changeDate", "expirationDate"):
        if name in raw_session:
            assert isinstance(raw_session[name], str) and TIMESTAMP_Z.match(raw_session[name]), (
                f"{name} must be an RFC 3339 UTC timestamp with Z: {raw_session[name]!r}"
            )
    for name, factor in (raw_session.get("factors") or {}).items():
        assert isinstance(factor, dict), f"factors.{name}: {factor!r}"
        assert TIMESTAMP_Z.match(factor.get("verifiedAt", "")), f"factors.{name}.verifiedAt: {factor!r}"
    for key, value in raw_session.items():
        assert value is not None, f"{key} is null: zero/absent fields are omitted in proto3 JSON"
    if "sequence" in raw_session:
        uint64(raw_session["sequence"], "session.sequence")


# --------------------------------------------------------------------------- CreateSession


def test_create_with_login_name_and_password(admin, make_user, whoami):
    user = make_user("login")
    before = utcnow()
    # loginName is case-insensitive
    resp = create(admin, password_checks(user, login_name=user.email.upper()))
    assert resp.details is not None, "CreateSession returns details"
    raw = admin.last.json()
    seq = uint64(raw["details"]["sequence"], "details.sequence")
    assert seq > 0
    near(resp.details.change_date, before, "details.changeDate")
    assert whoami(resp.session_token) == 200

    session = get(admin, resp.session_id)
    raw_session = admin.last.json()["session"]
    assert_session_wire(raw_session)
    assert "expirationDate" not in raw_session, "no lifetime: expirationDate is omitted (never expires)"
    assert session.expiration_date is None
    near(session.creation_date, before, "creationDate")
    assert aware(session.change_date, "changeDate") >= session.creation_date
    assert uint64(session.sequence, "session.sequence") >= seq

    factors = session.factors
    assert factors is not None and factors.user is not None, f"factors.user: {session}"
    assert factors.user.id == user.id
    login_name = factors.user.login_name
    assert isinstance(login_name, str) and login_name.lower() in user.login_names, factors.user
    assert factors.user.display_name == user.name, "displayName comes from the `name` trait"
    near(factors.user.verified_at, before, "factors.user.verifiedAt")
    assert factors.password is not None, f"factors.password: {factors}"
    near(factors.password.verified_at, before, "factors.password.verifiedAt")
    for absent in ("totp", "recovery_code", "web_auth_n", "intent", "otp_sms", "otp_email"):
        assert getattr(factors, absent) is None, f"an unchecked factor is omitted: {absent}"

    # The username is a login name too, in any case.
    by_username = create(admin, password_checks(user, login_name=user.username.swapcase()))
    assert by_username.session_id != resp.session_id
    assert by_username.session_token != resp.session_token
    assert get(admin, by_username.session_id).factors.user.id == user.id


def test_create_with_user_id_lifetime_metadata_and_user_agent(admin, make_user):
    user = make_user("roundtrip")
    binary = bytes(range(256))
    slashes = b"\xfb\xff"  # standard base64 "+/8=", URL-safe unpadded "-_8"
    user_agent = SessionServiceUserAgent(
        fingerprint_id=f"fp-{uuid.uuid4().hex}",
        ip="203.0.113.5",
        description="Firefox on Linux (contract test)",
        header={
            "user-agent": SessionServiceHeaderValues(values=["Mozilla/5.0 (X11; Linux x86_64)"]),
            "accept-language": SessionServiceHeaderValues(values=["en-GB", "de;q=0.8"]),
        },
    )
    before = utcnow()
    resp = login(
        admin,
        user,
        lifetime="3600s",
        metadata={
            "binary": b64(binary),
            "text": b64("grüße".encode()),
            "urlsafe": base64.urlsafe_b64encode(slashes).decode().rstrip("="),
        },
        user_agent=user_agent,
    )
    session = get(admin, resp.session_id)
    raw_session = admin.last.json()["session"]
    assert_session_wire(raw_session)

    near(session.expiration_date, before + timedelta(seconds=3600), "expirationDate (lifetime 3600s)")

    # bytes travel as base64 text; the SDK hands them back undecoded (str)
    assert session.metadata is not None, session
    assert set(session.metadata) == {"binary", "text", "urlsafe"}
    assert base64.b64decode(session.metadata["binary"]) == binary
    assert base64.b64decode(session.metadata["text"]).decode() == "grüße"
    assert session.metadata["urlsafe"] == "+/8=", (
        "URL-safe unpadded input is accepted; output is standard padded base64"
    )

    agent = session.user_agent
    assert agent is not None, session
    assert agent.fingerprint_id == user_agent.fingerprint_id
    assert agent.ip == "203.0.113.5"
    assert agent.description == user_agent.description
    assert agent.header is not None and set(agent.header) == {"user-agent", "accept-language"}, agent.header
    assert agent.header["user-agent"].values == ["Mozilla/5.0 (X11; Linux x86_64)"]
    assert agent.header["accept-language"].values == ["en-GB", "de;q=0.8"]

    assert session.factors.user.id == user.id
    # ListSessions returns the same session object
    listed = list_sessions(admin, q_ids(resp.session_id))
    assert ids_of(listed) == [resp.session_id]
    assert listed.sessions[0].metadata == session.metadata
    assert listed.sessions[0].user_agent == session.user_agent
    assert listed.sessions[0].expiration_date == session.expiration_date


def test_create_without_checks_then_set_user_and_password(admin, make_user, whoami):
    resp = create(admin)
    session = get(admin, resp.session_id)
    raw_session = admin.last.json()["session"]
    assert session.factors is None and "factors" not in raw_session, f"no user checked yet: {raw_session}"
    assert session.expiration_date is None
    assert ids_of(list_sessions(admin, q_ids(resp.session_id))) == [resp.session_id]
    assert whoami(resp.session_token) == 401, "a session without a user authenticates nobody"

    user = make_user("late")
    before = utcnow()
    updated = set_session(admin, resp.session_id, checks=password_checks(user))
    assert updated.session_token != resp.session_token
    assert uint64(admin.last.json()["details"]["sequence"], "details.sequence") > 0
    session = get(admin, resp.session_id)
    assert session.factors is not None and session.factors.user.id == user.id
    near(session.factors.password.verified_at, before, "factors.password.verifiedAt")
    assert whoami(updated.session_token) == 200
    assert whoami(resp.session_token) == 401


def test_wrong_password_is_refused_and_creates_no_session(admin, make_user):
    user = make_user("wrongpw")
    expect_error(CHECK_FAILED, admin.sessions.create_session,
                 SessionServiceCreateSessionRequest(checks=password_checks(user, password="not-the-password")))
    listed = list_sessions(admin, q_user(user.id))
    assert ids_of(listed) == [] and total(listed) == 0, "a failed CreateSession leaves no session behind"


def test_unknown_user_is_not_found(admin, make_user):
    make_user("known")  # the service has users; these just are not among them
    for check in (
        SessionServiceCheckUser(user_id=str(uuid.uuid4())),
        SessionServiceCheckUser(login_name=f"nobody-{uuid.uuid4().hex}@example.org"),
    ):
        expect_error("not_found", admin.sessions.create_session,
                     SessionServiceCreateSessionRequest(checks=SessionServiceChecks(user=check)))


# --------------------------------------------------------------------------- SetSession


def test_totp_check_rotates_the_session_token(admin, make_user, whoami, totp_code):
    user = make_user("totp", totp=True)
    created = login(admin, user)
    create_seq = uint64(admin.last.json()["details"]["sequence"], "details.sequence")
    # 403: the token is valid, but the user now has TOTP, so whoami wants aal2.
    assert whoami(created.session_token) in (200, 403)
    first = get(admin, created.session_id)
    before = utcnow()

    updated = set_session(admin, created.session_id,
                          checks=SessionServiceChecks(totp=SessionServiceCheckTOTP(code=totp_code(user.totp_secret))))
    assert updated.session_token != created.session_token
    assert updated.details is not None
    set_seq = uint64(admin.last.json()["details"]["sequence"], "details.sequence")
    assert set_seq > create_seq, "sequence increases with every change"
    assert set_seq > uint64(first.sequence, "session.sequence")
    near(updated.details.change_date, before, "details.changeDate")

    # the old token stops working at once, the new one works
    assert whoami(created.session_token) == 401
    assert whoami(updated.session_token) == 200

    session = get(admin, created.session_id)
    assert session.factors.totp is not None, session.factors
    near(session.factors.totp.verified_at, before, "factors.totp.verifiedAt")
    assert session.factors.password is not None and session.factors.user.id == user.id
    assert session.creation_date == first.creation_date
    assert session.change_date >= first.change_date
    assert uint64(session.sequence, "session.sequence") >= set_seq

    # GetSession with the current token works; with the replaced one it is refused
    assert get(admin, created.session_id, token=updated.session_token).id == created.session_id
    expect_error("permission_denied", admin.sessions.get_session,
                 SessionServiceGetSessionRequest(session_id=created.session_id, session_token=created.session_token))


def test_totp_wrong_code_and_replay_are_refused(admin, make_user, whoami, totp_code):
    user = make_user("totpbad", totp=True)
    created = login(admin, user)
    now = time.time()
    near_codes = {totp_code(user.totp_secret, now + d * 30) for d in (-2, -1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in near_codes)
    expect_error(CHECK_FAILED, admin.sessions.set_session,
                 SessionServiceSetSessionRequest(session_id=created.session_id,
                                                 checks=SessionServiceChecks(totp=SessionServiceCheckTOTP(code=wrong))))
    assert whoami(created.session_token) in (200, 403), "a failed check neither rotates nor revokes the token"
    assert get(admin, created.session_id).factors.totp is None

    code = totp_code(user.totp_secret)
    updated = set_session(admin, created.session_id,
                          checks=SessionServiceChecks(totp=SessionServiceCheckTOTP(code=code)))
    expect_error(CHECK_FAILED, admin.sessions.set_session,
                 SessionServiceSetSessionRequest(session_id=created.session_id,
                                                 checks=SessionServiceChecks(totp=SessionServiceCheckTOTP(code=code))))
    assert whoami(updated.session_token) == 200, "a refused replay leaves the current token alone"


def test_recovery_code_works_once(admin, make_user, whoami):
    user = make_user("recovery", recovery=True)
    assert len(user.recovery_codes) >= 2, user.recovery_codes
    first_code, second_code = user.recovery_codes[0], user.recovery_codes[1]
    created = login(admin, user)
    before = utcnow()

    used = set_session(admin, created.session_id,
                       checks=SessionServiceChecks(recovery_code=SessionServiceCheckRecoveryCode(code=first_code)))
    assert used.session_token != created.session_token
    session = get(admin, created.session_id)
    assert session.factors.recovery_code is not None, session.factors
    near(session.factors.recovery_code.verified_at, before, "factors.recoveryCode.verifiedAt")

    # the same code again, even on a brand-new session: refused
    other = login(admin, user)
    for session_id in (created.session_id, other.session_id):
        expect_error(CHECK_FAILED, admin.sessions.set_session,
                     SessionServiceSetSessionRequest(
                         session_id=session_id,
                         checks=SessionServiceChecks(recovery_code=SessionServiceCheckRecoveryCode(code=first_code))))
    assert get(admin, other.session_id).factors.recovery_code is None
    assert whoami(used.session_token) == 200

    # an unused code still works
    set_session(admin, other.session_id,
                checks=SessionServiceChecks(recovery_code=SessionServiceCheckRecoveryCode(code=second_code)))
    assert get(admin, other.session_id).factors.recovery_code is not None


def test_idp_intent_check_works_once_and_only_for_its_user(admin, make_user, whoami, record_intent):
    user = make_user("intent")
    other = make_user("intent-other")
    recorded = record_intent(user)

    def intent_check(intent: Dict[str, str]) -> SessionServiceCheckIDPIntent:
        return SessionServiceCheckIDPIntent(
            idp_intent_id=intent["idpIntentId"], idp_intent_token=intent["idpIntentToken"]
        )

    # another user's session, or a wrong token: refused, and the intent is not spent
    expect_error(CHECK_FAILED, admin.sessions.create_session,
                 SessionServiceCreateSessionRequest(
                     checks=SessionServiceChecks(user=user_check(other), idp_intent=intent_check(recorded))))
    wrong = dict(recorded, idpIntentToken="lanyard_it_guess")
    expect_error(CHECK_FAILED, admin.sessions.create_session,
                 SessionServiceCreateSessionRequest(
                     checks=SessionServiceChecks(user=user_check(user), idp_intent=intent_check(wrong))))

    before = utcnow()
    created = admin.sessions.create_session(SessionServiceCreateSessionRequest(
        checks=SessionServiceChecks(user=user_check(user), idp_intent=intent_check(recorded))))
    session = get(admin, created.session_id)
    assert session.factors.intent is not None, session.factors
    near(session.factors.intent.verified_at, before, "factors.intent.verifiedAt")
    assert whoami(created.session_token) == 200

    # used up
    expect_error(CHECK_FAILED, admin.sessions.create_session,
                 SessionServiceCreateSessionRequest(
                     checks=SessionServiceChecks(user=user_check(user), idp_intent=intent_check(recorded))))
    # a fresh one steps an existing session up
    password_session = login(admin, user)
    stepped = set_session(admin, password_session.session_id,
                          checks=SessionServiceChecks(idp_intent=intent_check(record_intent(user))))
    assert stepped.session_token != password_session.session_token
    assert get(admin, password_session.session_id).factors.intent is not None


def test_otp_email_code_returned_by_a_challenge_checks_once(admin, make_user, whoami, enable_otp):
    user = make_user("otp")
    enable_otp(user, "email")
    created = login(admin, user, challenges=SessionServiceRequestChallenges(
        otp_email=SessionServiceOTPEmail(return_code={})))
    code = created.challenges.otp_email
    assert code and len(code) == 8 and code.isdigit(), created.challenges
    assert whoami(created.session_token) == 403, "codes are enabled: whoami asks for AAL2"

    before = utcnow()
    checked = set_session(admin, created.session_id,
                          checks=SessionServiceChecks(otp_email=SessionServiceCheckOTP(code=code)))
    session = get(admin, created.session_id)
    assert session.factors.otp_email is not None, session.factors
    near(session.factors.otp_email.verified_at, before, "factors.otpEmail.verifiedAt")
    assert whoami(checked.session_token) == 200
    expect_error(CHECK_FAILED, admin.sessions.set_session,
                 SessionServiceSetSessionRequest(
                     session_id=created.session_id,
                     checks=SessionServiceChecks(otp_email=SessionServiceCheckOTP(code=code))))


def test_otp_sms_needs_an_enabled_phone(admin, make_user, enable_otp):
    user = make_user("otp-sms")
    created = login(admin, user)
    expect_error("failed_precondition", admin.sessions.set_session,
                 SessionServiceSetSessionRequest(
                     session_id=created.session_id,
                     challenges=SessionServiceRequestChallenges(otp_sms=SessionServiceOTPSMS(return_code=True))))


def test_set_session_metadata_empty_value_deletes_and_lifetime_moves_expiry(admin, make_user):
    user = make_user("meta")
    created = login(admin, user, metadata={"keep": b64(b"kept"), "drop": b64(b"dropped"), "change": b64(b"old")})
    first = get(admin, created.session_id)
    assert set(first.metadata or {}) == {"keep", "drop", "change"}
    assert first.expiration_date is None

    before = utcnow()
    set_session(admin, created.session_id, metadata={"drop": "", "change": b64(b"new"), "added": b64(b"\x00")},
                lifetime="60s")
    session = get(admin, created.session_id)
    assert session.metadata is not None
    assert {k: base64.b64decode(v) for k, v in session.metadata.items()} == {
        "keep": b"kept",
        "change": b"new",
        "added": b"\x00",
    }, "an empty value deletes the key; others are overwritten or added"
    near(session.expiration_date, before + timedelta(seconds=60), "expirationDate (lifetime 60s)")
    assert session.creation_date == first.creation_date
    assert session.change_date > first.change_date
    assert uint64(session.sequence, "session.sequence") > uint64(first.sequence, "session.sequence")


def test_set_session_without_changes_returns_no_token_and_keeps_the_old_one(admin, make_user, whoami):
    # As ZITADEL does (reference 8): a Set that changes nothing writes nothing and returns no
    # sessionToken, so the current token stays the valid one.
    user = make_user("noop")
    created = login(admin, user)
    updated = admin.sessions.set_session(SessionServiceSetSessionRequest(session_id=created.session_id))
    assert updated.session_token is None
    assert whoami(created.session_token) == 200


# --------------------------------------------------------------------------- malformed WebAuthN


def test_a_webauthn_check_that_is_no_assertion_is_refused_and_changes_nothing(admin, make_user, whoami):
    user = make_user("webauthn-bad")
    created = login(admin, user)
    garbage = SessionServiceCheckWebAuthN(credential_assertion_data={"id": "AAAA"})
    error = expect_error("invalid_argument", admin.sessions.set_session,
                         SessionServiceSetSessionRequest(session_id=created.session_id,
                                                         checks=SessionServiceChecks(web_auth_n=garbage)))
    assert "credentialAssertionData" in error["message"]
    assert whoami(created.session_token) == 200
    assert get(admin, created.session_id).factors.password is not None

    with_user = SessionServiceChecks(user=user_check(user), web_auth_n=garbage)
    expect_error("invalid_argument", admin.sessions.create_session,
                 SessionServiceCreateSessionRequest(checks=with_user))
    assert ids_of(list_sessions(admin, q_user(user.id))) == [created.session_id], "the refused create made no session"


# --------------------------------------------------------------------------- ListSessions


def test_list_sessions_by_user_sorted_and_paged(admin, make_user):
    user = make_user("paging")
    other = make_user("paging-other")
    s1, s2, s3 = (login(admin, user).session_id for _ in range(3))
    login(admin, other)

    asc = list_sessions(admin, q_user(user.id), sort=CREATION_DATE, query=SessionServiceListQuery(asc=True))
    assert ids_of(asc) == [s1, s2, s3]
    assert uint64(admin.last.json()["details"]["totalResult"], "details.totalResult") == 3
    created_at = [s.creation_date for s in asc.sessions]
    assert created_at == sorted(created_at)
    for s in asc.sessions:
        assert s.factors.user.id == user.id
    for raw_session in admin.last.json()["sessions"]:
        assert_session_wire(raw_session)

    desc = list_sessions(admin, q_user(user.id), sort=CREATION_DATE, query=SessionServiceListQuery(asc=False))
    assert ids_of(desc) == [s3, s2, s1]
    # Lanyard orders by creation date, newest first, when no sorting column is given (reference section 11)
    assert ids_of(list_sessions(admin, q_user(user.id))) == [s3, s2, s1]

    page1 = list_sessions(admin, q_user(user.id), sort=CREATION_DATE,
                          query=SessionServiceListQuery(asc=True, limit=2))
    assert ids_of(page1) == [s1, s2] and total(page1) == 3, "totalResult counts before offset/limit"
    # offset is a uint64: the SDK passes it through untyped, so send it as a JSON string and as a number
    for offset in ("2", 2):
        page2 = list_sessions(admin, q_user(user.id), sort=CREATION_DATE,
                              query=SessionServiceListQuery(asc=True, limit=2, offset=offset))
        assert ids_of(page2) == [s3] and total(page2) == 3, f"offset {offset!r}"
    past_end = list_sessions(admin, q_user(user.id), sort=CREATION_DATE,
                             query=SessionServiceListQuery(asc=True, offset="10", limit=2))
    assert ids_of(past_end) == [] and total(past_end) == 3
    # explicit null offset and zero limit (= the default limit): everything
    full = list_sessions(admin, q_user(user.id), sort=CREATION_DATE,
                         query=SessionServiceListQuery(offset=None, limit=0, asc=True))
    assert ids_of(full) == [s1, s2, s3]


def test_list_sessions_ids_query_and_queries_are_anded(admin, make_user):
    alice, bob = make_user("and-a"), make_user("and-b")
    a1, a2 = login(admin, alice).session_id, login(admin, alice).session_id
    b1 = login(admin, bob).session_id

    assert set(ids_of(list_sessions(admin, q_ids(a1, b1)))) == {a1, b1}
    both = list_sessions(admin, q_ids(a1, b1), q_user(alice.id))
    assert ids_of(both) == [a1] and total(both) == 1
    assert ids_of(list_sessions(admin, q_ids(a2), q_user(bob.id))) == []
    assert ids_of(list_sessions(admin, q_ids(str(uuid.uuid4())))) == []
    assert set(ids_of(list_sessions(admin, q_user(alice.id)))) == {a1, a2}


def test_list_sessions_creation_date_query_methods(admin, make_user):
    user = make_user("created")
    s1, s2, s3 = (login(admin, user).session_id for _ in range(3))
    at = aware(get(admin, s2).creation_date, "creationDate")

    expected = {
        Method.TIMESTAMP_QUERY_METHOD_EQUALS: [s2],
        Method.TIMESTAMP_QUERY_METHOD_GREATER: [s3],
        Method.TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS: [s2, s3],
        Method.TIMESTAMP_QUERY_METHOD_LESS: [s1],
        Method.TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS: [s1, s2],
    }
    for method, wanted in expected.items():
        resp = list_sessions(admin, q_user(user.id), q_created(method, at), sort=CREATION_DATE,
                             query=SessionServiceListQuery(asc=True))
        assert ids_of(resp) == wanted, f"{method.value} {at.isoformat()}"
        assert total(resp) == len(wanted)

    # the same instant written with another UTC offset selects the same rows
    shifted = at.astimezone(timezone(timedelta(hours=5, minutes=30)))
    resp = list_sessions(admin, q_user(user.id), q_created(Method.TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS, shifted),
                         sort=CREATION_DATE, query=SessionServiceListQuery(asc=True))
    assert ids_of(resp) == [s2, s3]


def test_list_sessions_expiration_date_query_matches_never_expiring_for_greater(admin, make_user):
    user = make_user("expiry")
    hour = login(admin, user, lifetime="3600s").session_id
    never = login(admin, user).session_id
    minute = login(admin, user, lifetime="60s").session_id
    cut = utcnow() + timedelta(minutes=30)
    mine = q_ids(hour, never, minute)

    def select(method: Method, at: datetime) -> Set[str]:
        return set(ids_of(list_sessions(admin, mine, q_expires(method, at))))

    assert select(Method.TIMESTAMP_QUERY_METHOD_GREATER, cut) == {hour, never}
    assert select(Method.TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS, cut) == {hour, never}
    assert select(Method.TIMESTAMP_QUERY_METHOD_LESS, cut) == {minute}
    assert select(Method.TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS, cut) == {minute}
    exact = get(admin, hour).expiration_date
    assert select(Method.TIMESTAMP_QUERY_METHOD_EQUALS, exact) == {hour}


def test_list_sessions_creator_and_user_agent_queries(admin, make_user):
    user = make_user("agent")
    fp1, fp2 = f"fp-{uuid.uuid4().hex}", f"fp-{uuid.uuid4().hex}"
    a = login(admin, user, user_agent=SessionServiceUserAgent(fingerprint_id=fp1)).session_id
    b = login(admin, user, user_agent=SessionServiceUserAgent(fingerprint_id=fp1, description="second")).session_id
    # explicitly unset nullable fields: the SDK sends `"ip": null, "description": null`
    c = login(admin, user, user_agent=SessionServiceUserAgent(fingerprint_id=fp2, ip=None, description=None)).session_id

    assert set(ids_of(list_sessions(admin, q_fingerprint(fp1)))) == {a, b}
    assert ids_of(list_sessions(admin, q_fingerprint(fp2), q_user(user.id))) == [c]
    assert ids_of(list_sessions(admin, q_fingerprint(f"fp-{uuid.uuid4().hex}"))) == []

    mine = q_ids(a, b, c)
    # creatorQuery without an id means "created by the caller" (here: this API key)
    by_caller = SessionServiceSearchQuery(creator_query=SessionServiceCreatorQuery())
    assert set(ids_of(list_sessions(admin, mine, by_caller))) == {a, b, c}
    explicit_null = SessionServiceSearchQuery(creator_query=SessionServiceCreatorQuery(id=None))
    assert set(ids_of(list_sessions(admin, mine, explicit_null))) == {a, b, c}
    for stranger in (str(uuid.uuid4()), user.id):  # the user did not create these sessions
        by_other = SessionServiceSearchQuery(creator_query=SessionServiceCreatorQuery(id=stranger))
        assert ids_of(list_sessions(admin, mine, by_other)) == [], stranger


def test_list_sessions_empty_result(admin, make_user):
    make_user("empty")
    resp = list_sessions(admin, q_user(str(uuid.uuid4())))
    assert ids_of(resp) == [] and total(resp) == 0
    raw = admin.last.json()
    # ZITADEL omits both on an empty result; Lanyard sends [] and "0" (valid proto3 JSON either way)
    assert raw.get("sessions", []) == []
    assert raw["details"].get("totalResult", "0") == "0"


@pytest.mark.parametrize(
    "request_factory",
    [
        pytest.param(lambda: SessionServiceListSessionsRequest(queries=[SessionServiceSearchQuery()]),
                     id="query-element-with-nothing-set"),
        pytest.param(lambda: SessionServiceListSessionsRequest(query=SessionServiceListQuery(limit=1001)),
                     id="limit-above-1000"),
        pytest.param(lambda: SessionServiceListSessionsRequest(queries=[q_created(
            Method.TIMESTAMP_QUERY_METHOD_LESS, datetime(2025, 1, 2, 3, 4, 5, 123456))]),
                     id="timestamp-without-zone"),
    ],
)
def test_list_sessions_rejects_invalid_requests(admin, request_factory):
    expect_error("invalid_argument", admin.sessions.list_sessions, request_factory())


# --------------------------------------------------------------------------- DeleteSession and lifecycle


def test_delete_session_makes_it_not_found(admin, make_user, whoami):
    user = make_user("delete")
    keep = login(admin, user)
    gone = login(admin, user)
    resp = delete(admin, gone.session_id)
    assert resp.details is not None, "DeleteSession returns details"

    body = expect_error("not_found", admin.sessions.get_session,
                        SessionServiceGetSessionRequest(session_id=gone.session_id))
    assert body["message"]
    assert ids_of(list_sessions(admin, q_ids(gone.session_id))) == []
    assert ids_of(list_sessions(admin, q_user(user.id))) == [keep.session_id]
    assert whoami(gone.session_token) == 401
    assert whoami(keep.session_token) == 200
    # deleting a terminated session again succeeds (ZITADEL semantics)
    delete(admin, gone.session_id)
    expect_error("not_found", admin.sessions.get_session,
                 SessionServiceGetSessionRequest(session_id=str(uuid.uuid4())))


def test_expired_session_stays_gettable_and_listed(admin, make_user, whoami):
    user = make_user("expired")
    before = utcnow()
    resp = login(admin, user, lifetime="1s")
    assert whoami(resp.session_token) == 200
    time.sleep(1.3)
    assert whoami(resp.session_token) == 401
    session = get(admin, resp.session_id)
    near(session.expiration_date, before + timedelta(seconds=1), "expirationDate (lifetime 1s)")
    assert ids_of(list_sessions(admin, q_user(user.id))) == [resp.session_id]
    just_after = session.expiration_date + timedelta(microseconds=1)
    past = list_sessions(admin, q_user(user.id), q_expires(Method.TIMESTAMP_QUERY_METHOD_LESS, just_after))
    assert ids_of(past) == [resp.session_id]


# --------------------------------------------------------------------------- callers and visibility


def test_missing_or_invalid_bearer_is_unauthenticated(make_sdk):
    request = SessionServiceListSessionsRequest()
    expect_error("unauthenticated", make_sdk(None).sessions.list_sessions, request)
    expect_error("unauthenticated", make_sdk("not-a-key-or-token").sessions.list_sessions, request)
    expect_error("unauthenticated", make_sdk(f"lanyard_st_{'A' * 43}").sessions.get_session,
                 SessionServiceGetSessionRequest(session_id=str(uuid.uuid4())))


def test_session_token_caller_sees_and_deletes_only_own_sessions(admin, make_user, make_sdk, whoami):
    alice, bob = make_user("own-a"), make_user("own-b")
    a1, a2 = login(admin, alice), login(admin, alice)
    b1 = login(admin, bob)
    as_alice = make_sdk(a1.session_token)

    listed = list_sessions(as_alice)
    assert set(ids_of(listed)) == {a1.session_id, a2.session_id}, "only sessions whose user is the caller"
    assert total(listed) == 2, "totalResult counts only visible sessions"
    assert all(s.factors.user.id == alice.id for s in listed.sessions)
    assert ids_of(list_sessions(as_alice, q_user(bob.id))) == []
    assert ids_of(list_sessions(as_alice, q_ids(b1.session_id))) == []

    assert get(as_alice, a2.session_id).factors.user.id == alice.id
    expect_error("permission_denied", as_alice.sessions.get_session,
                 SessionServiceGetSessionRequest(session_id=b1.session_id))
    expect_error("permission_denied", as_alice.sessions.delete_session,
                 SessionServiceDeleteSessionRequest(session_id=b1.session_id))
    assert whoami(b1.session_token) == 200
    assert get(admin, b1.session_id).id == b1.session_id

    delete(as_alice, a2.session_id)
    assert whoami(a2.session_token) == 401
    assert ids_of(list_sessions(as_alice)) == [a1.session_id]

    # the caller may end its own session; its token is then dead, also as a bearer token
    delete(as_alice, a1.session_id)
    assert whoami(a1.session_token) == 401
    expect_error("unauthenticated", as_alice.sessions.list_sessions, SessionServiceListSessionsRequest())
