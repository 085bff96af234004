"""Fixtures for the Kratos wire-compatibility contract suite.

The server is started by the Rust test harness, which passes:

    LANYARD_PUBLIC_URL  e.g. http://127.0.0.1:41233
    LANYARD_ADMIN_URL   e.g. http://127.0.0.1:41234
    LANYARD_ADMIN_KEY   an admin API key with every scope

Every call that the official SDK can make goes through `ory-kratos-client`.
Only the Lanyard extension `POST /admin/lanyard/sessions` (not part of the
Kratos API) is called with the standard library.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import pytest
import urllib3

import ory_kratos_client
from ory_kratos_client.exceptions import ApiException
from ory_kratos_client.models.create_identity_body import CreateIdentityBody
from ory_kratos_client.models.identity import Identity
from ory_kratos_client.models.identity_with_credentials import IdentityWithCredentials
from ory_kratos_client.models.identity_with_credentials_password import (
    IdentityWithCredentialsPassword,
)
from ory_kratos_client.models.identity_with_credentials_password_config import (
    IdentityWithCredentialsPasswordConfig,
)

# Seconds; no single request of this suite should come near it.
REQUEST_TIMEOUT = 15.0

TEST_PASSWORD = "contract-Test-passw0rd-4f9b1c"


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(
            f"{name} is not set: the Kratos contract suite needs a running Lanyard "
            "(the Rust harness sets LANYARD_PUBLIC_URL, LANYARD_ADMIN_URL, LANYARD_ADMIN_KEY)"
        )
    return value


@dataclass(frozen=True)
class Target:
    public_url: str
    admin_url: str
    admin_key: str


@pytest.fixture(scope="session")
def target() -> Target:
    return Target(
        public_url=_env("LANYARD_PUBLIC_URL").rstrip("/"),
        admin_url=_env("LANYARD_ADMIN_URL").rstrip("/"),
        admin_key=_env("LANYARD_ADMIN_KEY"),
    )


def _api_client(host: str, api_key: Optional[str] = None, prefix: Optional[str] = "Bearer"):
    """An SDK client. With `api_key`, the admin security scheme is filled in.

    In ory-kratos-client 25.x the admin scheme `oryAccessToken` is an
    *apiKey* scheme sent in the `Authorization` header: it is read from
    `Configuration.api_key["oryAccessToken"]` (with an optional
    `api_key_prefix`), NOT from `Configuration.access_token`, which no
    Kratos operation uses.  With prefix "Bearer" the header is
    `Authorization: Bearer <key>`; without a prefix it is the bare key.
    """
    conf = ory_kratos_client.Configuration(host=host)
    if api_key is not None:
        conf.api_key["oryAccessToken"] = api_key
        if prefix:
            conf.api_key_prefix["oryAccessToken"] = prefix
    client = ory_kratos_client.ApiClient(conf)
    # The generated client has no global timeout: give every new connection one.
    client.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(
        total=REQUEST_TIMEOUT
    )
    return client


def _close(client) -> None:
    # ApiClient has no close() (its __exit__ is a no-op): drop the pooled sockets.
    client.rest_client.pool_manager.clear()


@pytest.fixture(scope="session")
def admin_api_client(target: Target):
    client = _api_client(target.admin_url, target.admin_key)
    yield client
    _close(client)


@pytest.fixture(scope="session")
def public_api_client(target: Target):
    client = _api_client(target.public_url)
    yield client
    _close(client)


@pytest.fixture(scope="session")
def make_admin_client(target: Target) -> Callable[..., ory_kratos_client.ApiClient]:
    """Build an extra admin-port client with a chosen key/prefix (auth tests)."""
    made: List[ory_kratos_client.ApiClient] = []

    def make(api_key: Optional[str], prefix: Optional[str] = "Bearer"):
        client = _api_client(target.admin_url, api_key, prefix)
        made.append(client)
        return client

    yield make
    for c in made:
        _close(c)


@pytest.fixture(scope="session")
def identity_api(admin_api_client) -> ory_kratos_client.IdentityApi:
    return ory_kratos_client.IdentityApi(admin_api_client)


@pytest.fixture(scope="session")
def frontend_api(public_api_client) -> ory_kratos_client.FrontendApi:
    return ory_kratos_client.FrontendApi(public_api_client)


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex}@contract.example.com"


@pytest.fixture
def make_identity(identity_api) -> Callable[..., Identity]:
    """Create an identity with a unique email (and a password credential).

    Identities made here are deleted after the test (sessions go by cascade),
    so the server's tables stay small and tests stay independent.
    """
    created: List[str] = []

    def make(
        email: Optional[str] = None,
        *,
        password: Optional[str] = TEST_PASSWORD,
        state: Optional[str] = None,
        **extra_traits: Any,
    ) -> Identity:
        traits: Dict[str, Any] = {"email": email or unique_email()}
        traits.update(extra_traits)
        credentials = None
        if password is not None:
            credentials = IdentityWithCredentials(
                password=IdentityWithCredentialsPassword(
                    config=IdentityWithCredentialsPasswordConfig(password=password)
                )
            )
        body = CreateIdentityBody(
            schema_id="default", traits=traits, credentials=credentials, state=state
        )
        ident = identity_api.create_identity(create_identity_body=body)
        assert ident is not None, "create_identity returned no body (status must be exactly 201)"
        created.append(ident.id)
        return ident

    yield make

    for ident_id in created:
        try:
            identity_api.delete_identity(ident_id)
        except ApiException:
            pass  # the test deleted it already


@dataclass
class IssuedSession:
    """Result of the Lanyard extension `POST /admin/lanyard/sessions`."""

    id: str
    token: str
    body: Dict[str, Any]  # the raw `session` JSON
    status: int


# Loopback only: never route the extension calls through an environment proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw_request(
    method: str,
    url: str,
    body: Any = None,
    headers: Optional[Dict[str, str]] = None,
):
    """Plain stdlib HTTP call. Returns (status, headers, parsed JSON or None)."""
    data = None
    hdrs = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _opener.open(req, timeout=REQUEST_TIMEOUT) as resp:
            raw = resp.read()
            status, resp_headers = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        status, resp_headers = e.code, e.headers
    parsed = json.loads(raw) if raw.strip() else None
    return status, resp_headers, parsed


@pytest.fixture(scope="session")
def raw_http():
    """`raw_http(method, url, body=None, headers=None) -> (status, headers, json)`."""
    return raw_request


@pytest.fixture
def issue_session(target: Target) -> Callable[..., IssuedSession]:
    """Issue a session for an identity through the Lanyard admin extension.

    issue_session(identity_id, methods=None, device=None, lifespan="1h")
      methods:  list of {"method", optional "aal", optional "completed_at"};
                default [{"method": "password"}]
      device:   {"ip_address", "user_agent", "location"}; default a fixed one
      lifespan: Go-style duration string, or None to use the server default (24h)
      expect_status: the HTTP status to assert (None: any); on a non-201 the
                     result has empty id/token and `body` = the error JSON
    """

    def issue(
        identity_id: str,
        *,
        methods: Optional[List[Dict[str, Any]]] = None,
        device: Optional[Dict[str, Any]] = None,
        lifespan: Optional[str] = "1h",
        expect_status: Optional[int] = 201,
    ) -> IssuedSession:
        payload: Dict[str, Any] = {
            "identity_id": identity_id,
            "methods": methods if methods is not None else [{"method": "password"}],
            "device": device
            if device is not None
            else {
                "ip_address": "203.0.113.7",
                "user_agent": "contract-test",
                "location": "Berlin, DE",
            },
        }
        if lifespan is not None:
            payload["lifespan"] = lifespan
        status, _headers, body = raw_request(
            "POST",
            f"{target.admin_url}/admin/lanyard/sessions",
            payload,
            {"Authorization": f"Bearer {target.admin_key}"},
        )
        if expect_status is not None:
            assert status == expect_status, f"issue session: HTTP {status}: {body}"
        if status != 201:
            return IssuedSession(id="", token="", body=body or {}, status=status)
        assert isinstance(body, dict) and "session" in body and "session_token" in body, body
        return IssuedSession(
            id=body["session"]["id"],
            token=body["session_token"],
            body=body["session"],
            status=status,
        )

    return issue
