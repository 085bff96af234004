#!/usr/bin/env python3
"""Fuzzes a running Lanyard with schemathesis.

Four runs, each with the checks `not_a_server_error` (no 5xx) and
`response_schema_conformance` (every documented response matches its schema):

  kratos-admin   the Kratos v26.2.0 spec (kratos-api-v26.2.0.json beside this file), only the
                 operations Lanyard implements on the admin port, against the admin port;
  kratos-public  the same spec's public session operations, against the public port;
  lanyard-admin  Lanyard's own document, GET /openapi.json of the admin port;
  lanyard-public Lanyard's own document, GET /openapi.json of the public port (Kratos public
                 routes, ZITADEL REST and Connect, health).

Before fuzzing, both of Lanyard's documents are validated with openapi-spec-validator, and the
server is seeded (identities, Kratos sessions, a ZITADEL session) so that lists and gets answer
real data; known ids are fed to the `id` path parameters half of the time.

Environment: LANYARD_PUBLIC_URL, LANYARD_ADMIN_URL, LANYARD_ADMIN_KEY (required);
FUZZ_MAX_EXAMPLES (default 25), FUZZ_SEED (default fixed, so a CI run is reproducible;
"random" for a fresh one), FUZZ_WORK_DIR (reports; default a temporary directory).
Exits non-zero when any run finds a failure; the last line sums up every run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
KRATOS_SPEC = HERE / "kratos-api-v26.2.0.json"

PUBLIC = os.environ["LANYARD_PUBLIC_URL"].rstrip("/")
ADMIN = os.environ["LANYARD_ADMIN_URL"].rstrip("/")
KEY = os.environ["LANYARD_ADMIN_KEY"]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
SEED = os.environ.get("FUZZ_SEED", "20261124")
CHECKS = "not_a_server_error,response_schema_conformance"

# The Kratos operations Lanyard implements, by the port that serves them. Everything else in
# the Kratos spec (self-service flows, courier, recovery, batch patch, version, …) is not
# served and is left out.
KRATOS_ADMIN_OPERATIONS = [
    "listSessions",
    "getSession",
    "disableSession",
    "extendSession",
    "listIdentitySessions",
    "deleteIdentitySessions",
    "listIdentities",
    "createIdentity",
    "getIdentity",
    "updateIdentity",
    "patchIdentity",
    "deleteIdentity",
    "getIdentityByExternalID",
    "deleteIdentityCredentials",
    "listIdentitySchemas",
    "getIdentitySchema",
    "isAlive",
    "isReady",
]
KRATOS_PUBLIC_OPERATIONS = [
    "toSession",
    "listMySessions",
    "disableMyOtherSessions",
    "disableMySession",
    "performNativeLogout",
    "listIdentitySchemas",
    "getIdentitySchema",
    "isAlive",
    "isReady",
]


def request(method: str, url: str, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {KEY}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"seeding failed: {method} {url} -> {error.code}: {error.read().decode()}")


def seed() -> dict:
    """Identities and sessions for the fuzzers to find; returns the known ids and a token."""
    identities, sessions, tokens = [], [], []
    for n in range(3):
        email = f"fuzz-{n}-{uuid.uuid4().hex[:8]}@example.org"
        _, identity = request(
            "POST",
            f"{ADMIN}/admin/identities",
            {
                "schema_id": "default",
                "traits": {"email": email},
                "external_id": f"fuzz-{n}-{uuid.uuid4().hex[:8]}",
                "metadata_public": {"n": n},
                "credentials": {"password": {"config": {"password": "correct horse battery staple"}}},
            },
        )
        identities.append(identity["id"])
        for device in range(2):
            _, issued = request(
                "POST",
                f"{ADMIN}/admin/lanyard/sessions",
                {
                    "identity_id": identity["id"],
                    "methods": [{"method": "password"}],
                    "device": {"ip_address": f"203.0.113.{device + 1}", "user_agent": "fuzz"},
                },
            )
            sessions.append(issued["session"]["id"])
            tokens.append(issued["session_token"])
    # A ZITADEL session with user and password checks, for the ZITADEL gets and lists.
    _, created = request(
        "POST",
        f"{PUBLIC}/zitadel.session.v2.SessionService/CreateSession",
        {
            "checks": {
                "user": {"userId": identities[1]},
                "password": {"password": "correct horse battery staple"},
            },
            "metadata": {"fuzz": "eWVz"},
            "userAgent": {"fingerprintId": "fuzz", "description": "fuzz", "ip": "198.51.100.7"},
            "lifetime": "3600s",
        },
    )
    sessions.append(created["sessionId"])
    return {"identities": identities, "sessions": sessions, "token": tokens[0]}


def validate_documents() -> None:
    from openapi_spec_validator import validate

    for port, base in (("admin", ADMIN), ("public", PUBLIC)):
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as response:
            document = json.loads(response.read())
        validate(document)
        print(f"lanyard-{port}: /openapi.json is a valid OpenAPI {document['openapi']} document "
              f"({sum(len(item) for item in document['paths'].values())} operations)")


def toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def config(known: dict) -> str:
    """The schemathesis configuration. Every exception to "no 5xx, every response matches its
    schema" is here, with the reason."""
    ids = known["identities"] + known["sessions"]
    return f"""
[dictionaries.known_ids]
values = {toml_list(ids)}

# Real ids half of the time, so that gets, extends and deletes reach existing rows.
[[operations]]
include-path-regex = "\\\\{{id\\\\}}"
parameters = {{ "path.id" = {{ dictionary = "known_ids", probability = 0.5 }} }}

# README "What it serves" / ZITADEL: WebAuthN, IdP intents, OTP by SMS or email and challenges
# answer 501 (REST) / `unimplemented` (Connect), deliberately: never a silent success. That 501
# is documented in Lanyard's document; it is not a server fault.
[[operations]]
include-path-regex = "^/(v2|v2beta)/sessions|^/zitadel\\\\.session\\\\."
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]
"""


def kratos_spec(work: Path) -> Path:
    """The Kratos spec as schemathesis reads it: the file beside this script, with `null`
    allowed in exactly the places where Lanyard answers null and the spec has no null. The
    response schema check stays on for every operation; only these fields are widened.
    """
    spec = json.loads(KRATOS_SPEC.read_text())
    schemas = spec["components"]["schemas"]
    # `identity` is null when a session is listed or read without expand=identity, and
    # `devices` is null on unexpanded lists ([] on single reads): Lanyard's deliberate Kratos
    # wire format (HiddenDevices in crates/api/src/kratos/wire.rs), which the Kratos SDK
    # contract suite accepts; the spec only knows these properties absent or present.
    schemas["session"]["properties"]["identity"]["nullable"] = True
    schemas["session"]["properties"]["devices"]["nullable"] = True
    # A device without an IP address, user agent or location has null there (Kratos's device
    # fields are nullable pointers); the spec says string.
    for field in ("ip_address", "user_agent", "location"):
        schemas["sessionDevice"]["properties"][field]["nullable"] = True
    path = work / "kratos-api-v26.2.0.lanyard.json"
    path.write_text(json.dumps(spec))
    return path


SUMMARY = re.compile(r"(\d+) generated")
SEED_LINE = re.compile(r"Seed: (\d+)")


def schemathesis(name: str, location: str, base_url: str, headers: dict, extra: list, cfg: Path, work: Path):
    st = Path(sys.executable).parent / "st"
    command = [str(st), "--config-file", str(cfg), "run", location, "--url", base_url,
               "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
               "--generation-database", "none", "--no-color", "--warnings", "off",
               "--report", "junit", "--report-junit-path", str(work / f"{name}.junit.xml")]
    if SEED != "random":
        command += ["--seed", SEED]
    for header, value in headers.items():
        command += ["--header", f"{header}: {value}"]
    command += extra
    started = time.monotonic()
    result = subprocess.run(command, cwd=work, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    generated = sum(int(n) for n in SUMMARY.findall(output))
    seed = SEED_LINE.search(output)
    print(f"=== {name}: exit {result.returncode}, {generated} test cases, {elapsed:.1f}s, "
          f"seed {seed.group(1) if seed else '?'}")
    if result.returncode != 0 or os.environ.get("FUZZ_VERBOSE"):
        print(output)
    else:
        # The summary block only.
        tail = output[output.find("=== SUMMARY") - 40:] if "SUMMARY" in output else output[-2000:]
        print(tail.strip())
    return result.returncode == 0, generated, elapsed


def main() -> int:
    validate_documents()
    known = seed()
    work = Path(os.environ.get("FUZZ_WORK_DIR") or tempfile.mkdtemp(prefix="lanyard-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "schemathesis.toml"
    cfg.write_text(config(known))
    admin_headers = {"Authorization": f"Bearer {KEY}"}
    # The public port: the API key for the ZITADEL routes, a live session token for the Kratos
    # self-service routes (X-Session-Token wins over Authorization there).
    public_headers = {"Authorization": f"Bearer {KEY}", "X-Session-Token": known["token"]}

    def only(operations):
        out = []
        for operation in operations:
            out += ["--include-operation-id", operation]
        return out

    kratos = str(kratos_spec(work))
    runs = [
        ("kratos-admin", kratos, ADMIN, admin_headers, only(KRATOS_ADMIN_OPERATIONS)),
        ("kratos-public", kratos, PUBLIC, public_headers, only(KRATOS_PUBLIC_OPERATIONS)),
        ("lanyard-admin", f"{ADMIN}/openapi.json", ADMIN, admin_headers, []),
        ("lanyard-public", f"{PUBLIC}/openapi.json", PUBLIC, public_headers, []),
    ]
    only_runs = os.environ.get("FUZZ_RUNS")
    if only_runs:
        runs = [run for run in runs if run[0] in only_runs.split(",")]
    results = [schemathesis(name, location, base, headers, extra, cfg, work)
               for name, location, base, headers, extra in runs]
    failed = [run[0] for run, (ok, _, _) in zip(runs, results) if not ok]
    total = sum(generated for _, generated, _ in results)
    seconds = sum(elapsed for _, _, elapsed in results)
    print(f"fuzz: {len(runs) - len(failed)} passed, {len(failed)} failed "
          f"({total} test cases, max {MAX_EXAMPLES} examples per operation, seed {SEED}, {seconds:.0f}s)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
