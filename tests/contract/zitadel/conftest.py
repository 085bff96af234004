"""Fixtures for the ZITADEL Session Service v2 contract suite.

The server is started by the Rust test harness, which passes:

    LANYARD_PUBLIC_URL  e.g. http://127.0.0.1:41233  (the ZITADEL routes live here)
    LANYARD_ADMIN_URL   e.g. http://127.0.0.1:41234  (Kratos admin API + Lanyard extensions)
    LANYARD_ADMIN_KEY   an API key with every scope; also a valid ZITADEL bearer "PAT"

Every session call goes through the official SDK `zitadel-client` (Connect
paths `POST /zitadel.session.v2.SessionService/<Rpc>`, JSON). Test set-up
(identities, TOTP and recovery-code enrolment) and `whoami` use the standard
library, because they are not part of the ZITADEL session API.

How the SDK is pointed at plain http and a PAT
-----------------------------------------------
`Zitadel.with_access_token(host, token)` builds a `PersonalAccessTokenAuthenticator`;
its host goes through `URLUtil.build_hostname`, which only strips whitespace and
prefixes `https://` when the string has NO scheme. An explicit `http://...` base is
kept as is, and every request goes to `host + "/zitadel.session.v2.SessionService/<Rpc>"`
(plain concatenation: no path is appended or normalised, so the base must not end
with "/"). The token is sent as `Authorization: Bearer <token>`. The SDK talks
through a urllib3 PoolManager, which ignores *_PROXY environment variables.

Two things the SDK does silently, which the `sdk` wrapper below turns into loud failures:

* `ApiClient.response_deserialize` decodes the body inside `try:` and builds the
  result in `finally:`; a `return` in `finally` swallows the exception, so ANY
  2xx response it cannot decode (wrong field type, unknown enum value, a body that
  is not JSON, a non-JSON Content-Type, an empty body) comes back as `None`
  instead of raising.
* Only HTTP 200 is mapped to a response model: a 201 or 204 also yields `None`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
import urllib.error
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pytest
import urllib3

# zitadel_client imports the deprecated authlib.jose at import time (for its JWT authenticator,
# unused here). authlib.deprecate installs an "always" filter when imported, so add ours after it.
import authlib.deprecate  # noqa: E402,F401

warnings.filterwarnings("ignore", message=r"authlib\.jose module is deprecated")

import zitadel_client.models as zmodels  # noqa: E402
from zitadel_client import Zitadel  # noqa: E402
from zitadel_client.auth.no_auth_authenticator import NoAuthAuthenticator  # noqa: E402
from zitadel_client.api.session_service_api import SessionServiceApi  # noqa: E402

# Seconds; no single request of this suite should come near it.
REQUEST_TIMEOUT = 15.0

TEST_PASSWORD = "contract-Zitadel-passw0rd-7c2e9a"


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(
            f"{name} is not set: the ZITADEL contract suite needs a running Lanyard "
            "(the Rust harness sets LANYARD_PUBLIC_URL, LANYARD_ADMIN_URL, LANYARD_ADMIN_KEY)"
        )
    return value


@dataclass(frozen=True)
class Target:
    public_url: str
    admin_url: str
    admin_key: str
    # The login page origin the server's WebAuthn relying party accepts.
    webauthn_origin: str


@pytest.fixture(scope="session")
def target() -> Target:
    return Target(
        public_url=_env("LANYARD_PUBLIC_URL").rstrip("/"),
        admin_url=_env("LANYARD_ADMIN_URL").rstrip("/"),
        admin_key=_env("LANYARD_ADMIN_KEY"),
        webauthn_origin=_env("LANYARD_WEBAUTHN_ORIGIN"),
    )


# --------------------------------------------------------------------------- the SDK client


@dataclass
class Exchange:
    """The last HTTP response the SDK received (for wire-level assertions)."""

    status: int
    headers: Dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


class Sdk:
    """A `Zitadel` SDK instance plus a record of the raw responses it decoded.

    `sdk.sessions` is the SDK's own `SessionServiceApi`. The only change is a
    stricter `response_deserialize` on that client's `ApiClient`: it still runs the
    SDK's decoder, but a 2xx response that the SDK would silently turn into `None`
    fails the test with the reason (see the module docstring).
    """

    def __init__(self, zitadel: Zitadel):
        self.zitadel = zitadel
        self.sessions: SessionServiceApi = zitadel.sessions
        self.exchanges: List[Exchange] = []
        client = self.sessions.api_client
        client.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(
            total=REQUEST_TIMEOUT
        )
        original = client.response_deserialize

        def strict_deserialize(response_data, response_types_map=None):
            status = response_data.status
            self.exchanges.append(
                Exchange(status, response_data.getheaders(), response_data.data or b"")
            )
            # Raises zitadel_client.ApiError for every status outside 200..299.
            result = original(response_data=response_data, response_types_map=response_types_map)
            expected = (response_types_map or {}).get(str(status))
            body = (response_data.data or b"")[:2000]
            if expected is None:
                raise AssertionError(
                    f"HTTP {status}: zitadel-client decodes only HTTP "
                    f"{sorted((response_types_map or {}).keys())}, so the caller gets None. body={body!r}"
                )
            if result.data is None:
                ctype = response_data.getheader("content-type")
                try:
                    getattr(zmodels, expected).from_json(body.decode("utf-8"))
                    reason = (
                        "the body itself is valid, but the SDK decodes JSON only with Content-Type "
                        "application/json, */*+json or none at all"
                    )
                except Exception as exc:  # noqa: BLE001 - we report whatever the SDK tripped on
                    reason = f"{type(exc).__name__}: {exc}"
                raise AssertionError(
                    f"zitadel-client could not decode the HTTP {status} response as {expected} "
                    f"(Content-Type {ctype!r}) and would silently return None: {reason}\nbody={body!r}"
                )
            return result

        client.response_deserialize = strict_deserialize

    @property
    def last(self) -> Exchange:
        assert self.exchanges, "no response recorded yet"
        return self.exchanges[-1]

    def close(self) -> None:
        # ApiClient has no close(): drop the pooled sockets.
        self.sessions.api_client.rest_client.pool_manager.clear()


@pytest.fixture(scope="session")
def make_sdk(target: Target) -> Callable[..., Sdk]:
    """`make_sdk(token)`: an SDK client on the public URL with `Bearer <token>`.

    `make_sdk(None)` sends no Authorization header at all (NoAuthAuthenticator).
    """
    made: List[Sdk] = []

    def make(token: Optional[str]) -> Sdk:
        if token is None:
            zitadel = Zitadel(NoAuthAuthenticator(target.public_url))
        else:
            zitadel = Zitadel.with_access_token(target.public_url, token)
        sdk = Sdk(zitadel)
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        sdk.close()


@pytest.fixture(scope="session")
def admin(make_sdk, target: Target) -> Sdk:
    """The SDK authenticated with the admin API key as a personal access token."""
    return make_sdk(target.admin_key)


# --------------------------------------------------------------------------- stdlib HTTP

# Loopback only: never route set-up calls through an environment proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw_request(method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None):
    """Plain stdlib HTTP call. Returns (status, parsed JSON or None)."""
    data = None
    hdrs = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _opener.open(req, timeout=REQUEST_TIMEOUT) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        parsed = json.loads(raw) if raw.strip() else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, parsed


@pytest.fixture(scope="session")
def whoami(target: Target) -> Callable[[str], int]:
    """`whoami(session_token) -> HTTP status` of `GET {public}/sessions/whoami`."""

    def call(token: str) -> int:
        status, _ = raw_request(
            "GET", f"{target.public_url}/sessions/whoami", headers={"X-Session-Token": token}
        )
        return status

    return call


# --------------------------------------------------------------------------- identities


@dataclass
class User:
    id: str
    email: str
    username: str
    name: str
    password: str
    totp_secret: Optional[str] = None
    recovery_codes: List[str] = field(default_factory=list)

    @property
    def login_names(self) -> set:
        return {self.email.lower(), self.username.lower()}


def totp_code(secret_b32: str, at: Optional[float] = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) from a base32 secret."""
    secret_b32 = secret_b32.strip().replace(" ", "").upper()
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@pytest.fixture
def make_user(target: Target) -> Callable[..., User]:
    """Create an identity with a unique email and username, and a password.

    make_user(totp=True) also enrols TOTP, make_user(recovery=True) recovery codes.
    Identities made here are deleted after the test (their sessions go by cascade).
    """
    created: List[str] = []
    auth = {"Authorization": f"Bearer {target.admin_key}"}

    def make(tag: str = "zitadel", *, totp: bool = False, recovery: bool = False) -> User:
        suffix = uuid.uuid4().hex
        user = User(
            id="",
            email=f"{tag}-{suffix}@example.org",
            username=f"{tag}-{suffix[:16]}",
            name=f"Contract {tag.title()} {suffix[:6]}",
            password=TEST_PASSWORD,
        )
        status, body = raw_request(
            "POST",
            f"{target.admin_url}/admin/identities",
            {
                "schema_id": "default",
                "traits": {"email": user.email, "username": user.username, "name": user.name},
                "credentials": {"password": {"config": {"password": user.password}}},
            },
            auth,
        )
        assert status == 201 and isinstance(body, dict) and body.get("id"), (
            f"create identity: HTTP {status}: {body}"
        )
        user.id = body["id"]
        created.append(user.id)
        if totp:
            status, body = raw_request(
                "POST", f"{target.admin_url}/admin/lanyard/identities/{user.id}/credentials/totp", {}, auth
            )
            assert status == 200 and isinstance(body, dict) and body.get("secret"), (
                f"enrol TOTP: HTTP {status}: {body}"
            )
            user.totp_secret = body["secret"]
        if recovery:
            status, body = raw_request(
                "POST",
                f"{target.admin_url}/admin/lanyard/identities/{user.id}/credentials/lookup_secret",
                {},
                auth,
            )
            assert status == 200 and isinstance(body, dict) and body.get("codes"), (
                f"enrol recovery codes: HTTP {status}: {body}"
            )
            user.recovery_codes = [c if isinstance(c, str) else c.get("code") for c in body["codes"]]
        return user

    yield make

    for ident in created:
        raw_request("DELETE", f"{target.admin_url}/admin/identities/{ident}", headers=auth)


@pytest.fixture(name="record_intent")
def record_intent_fixture(target: Target) -> Callable[[User, str], Dict[str, str]]:
    """Record a sign-in at an external identity provider for `user` (the Lanyard extension
    that stands in for ZITADEL's own IdP exchange); returns {"idpIntentId", "idpIntentToken"}."""

    def record(user: User, idp_id: str = "google") -> Dict[str, str]:
        status, body = raw_request(
            "POST",
            f"{target.admin_url}/admin/lanyard/idp-intents",
            {"identity_id": user.id, "idp_id": idp_id, "idp_user_id": f"{user.username}-at-{idp_id}"},
            {"Authorization": f"Bearer {target.admin_key}"},
        )
        assert status == 201 and isinstance(body, dict) and body.get("idpIntentToken"), (
            f"record IdP intent: HTTP {status}: {body}"
        )
        return {"idpIntentId": body["idpIntentId"], "idpIntentToken": body["idpIntentToken"]}

    return record


@pytest.fixture(name="enable_otp")
def enable_otp_fixture(target: Target) -> Callable[[User, str], str]:
    """Enable one-time codes on a channel (`sms`, `email`) for `user`; returns the address."""

    def enable(user: User, channel: str) -> str:
        status, body = raw_request(
            "POST",
            f"{target.admin_url}/admin/lanyard/identities/{user.id}/credentials/code",
            {"channel": channel},
            {"Authorization": f"Bearer {target.admin_key}"},
        )
        assert status == 200 and isinstance(body, dict) and body.get("address"), (
            f"enable one-time codes by {channel}: HTTP {status}: {body}"
        )
        return body["address"]

    return enable


@pytest.fixture(scope="session", name="totp_code")
def totp_code_fixture() -> Callable[..., str]:
    """`totp_code(secret, at=None)`: the RFC 6238 code (a fixture, so the tests need not import conftest)."""
    return totp_code


# --------------------------------------------------------------------------- WebAuthn


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SoftAuthenticator:
    """A software FIDO2 authenticator with one credential, and the browser around it: it answers
    `{"publicKey": ...}` creation and request options (as the User and Session services return
    them) with the `PublicKeyCredential` JSON a browser would send. python-fido2 encodes the CBOR
    and the COSE key, `cryptography` signs (P-256). `verifies_user=False` is a plain security key
    (user presence only); `True` a passkey (PIN or biometrics too).
    """

    def __init__(self, origin: str, *, verifies_user: bool):
        self.origin = origin
        self.verifies_user = verifies_user
        self.counter = 0
        self.credential_id = b""
        self.rp_id = ""
        self.user_handle = ""
        self.key = None

    def _flags(self, *, attested: bool) -> bytes:
        flags = 0x01 | (0x04 if self.verifies_user else 0) | (0x40 if attested else 0)
        return bytes([flags])

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}).encode()

    def create(self, options: Dict[str, Any]) -> Dict[str, Any]:
        from cryptography.hazmat.primitives.asymmetric import ec
        from fido2 import cbor
        from fido2.cose import ES256

        public_key = options["publicKey"]
        assert {"type": "public-key", "alg": -7} in public_key["pubKeyCredParams"], public_key
        self.rp_id = public_key["rp"]["id"]
        self.user_handle = public_key["user"]["id"]
        self.credential_id = os.urandom(32)
        self.key = ec.generate_private_key(ec.SECP256R1())
        cose_key = cbor.encode(ES256.from_cryptography_key(self.key.public_key()))
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + self._flags(attested=True)
            + struct.pack(">I", self.counter)
            + bytes(16)  # AAGUID: none
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + cose_key
        )
        attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", public_key["challenge"])),
                "attestationObject": b64url(attestation),
            },
            "clientExtensionResults": {},
        }

    def get(self, options: Dict[str, Any]) -> Dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        public_key = options["publicKey"]
        assert public_key["rpId"] == self.rp_id, public_key
        allowed = [c["id"] for c in public_key.get("allowCredentials", [])]
        assert b64url(self.credential_id) in allowed, f"the challenge does not allow this key: {allowed}"
        self.counter += 1
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + self._flags(attested=False)
            + struct.pack(">I", self.counter)
        )
        client_data = self._client_data("webauthn.get", public_key["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(auth_data),
                "clientDataJSON": b64url(client_data),
                "signature": b64url(signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
        }


@pytest.fixture(name="authenticator")
def authenticator_fixture(target: Target) -> Callable[..., SoftAuthenticator]:
    """`authenticator(verifies_user=...)`: a software authenticator on the login page origin."""

    def make(*, verifies_user: bool) -> SoftAuthenticator:
        return SoftAuthenticator(target.webauthn_origin, verifies_user=verifies_user)

    return make
