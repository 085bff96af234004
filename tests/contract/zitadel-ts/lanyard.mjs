// Shared set-up for the ZITADEL TypeScript client contract suite (see README.md in tests/contract).
//
// The Rust harness (crates/server/tests/it/typescript.rs) starts two Lanyards and passes:
//
//   LANYARD_PUBLIC_URL      http://127.0.0.1:PORT   public port (the ZITADEL RPCs), cleartext
//   LANYARD_ADMIN_URL       http://127.0.0.1:PORT   admin port (Kratos identities API)
//   LANYARD_ADMIN_KEY       an API key with every scope; also a ZITADEL bearer "PAT"
//   LANYARD_TLS_PUBLIC_URL  https://127.0.0.1:PORT  public port of a second Lanyard serving TLS
//   LANYARD_TLS_ADMIN_URL   https://127.0.0.1:PORT  its admin port (TLS too)
//   LANYARD_TLS_ADMIN_KEY   an API key of that second Lanyard (its own database)
//   LANYARD_TLS_CA          path of the PEM certificate to trust for both TLS ports
//
// A missing variable fails every test (never a skip): a contract run that tests nothing, or
// only some transports, must not look green.

import { randomUUID } from "node:crypto";
import diagnosticsChannel from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";

import { clone, create, createFileRegistry } from "@bufbuild/protobuf";
import {
  DescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  timestampDate,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createServerTransport } from "@zitadel/client/node";
import { createSessionServiceClient, createUserServiceClient } from "@zitadel/client/v2";
import { ErrorDetailSchema } from "@zitadel/proto/zitadel/message_pb.js";
import { file_zitadel_session_v2_session } from "@zitadel/proto/zitadel/session/v2/session_pb.js";
import { file_zitadel_session_v2_session_service } from "@zitadel/proto/zitadel/session/v2/session_service_pb.js";

export const PASSWORD = "contract-Zitadel-TS-passw0rd-4b1d";
const REQUEST_TIMEOUT_MS = 15_000;

// --------------------------------------------------------------------------- environment

export function env(name) {
  const value = (process.env[name] ?? "").trim();
  if (!value) {
    throw new Error(
      `${name} is not set: the ZITADEL TypeScript contract suite needs running Lanyards ` +
        "(the Rust harness crates/server/tests/it/typescript.rs sets LANYARD_PUBLIC_URL, " +
        "LANYARD_ADMIN_URL, LANYARD_ADMIN_KEY, LANYARD_TLS_PUBLIC_URL, LANYARD_TLS_ADMIN_URL, " +
        "LANYARD_TLS_ADMIN_KEY and LANYARD_TLS_CA; see tests/contract/README.md)",
    );
  }
  return value;
}

const trimSlash = (url) => url.replace(/\/+$/, "");

/** Every variable of the suite, checked by every test: a partial run must not look green. */
export function requireEnvironment() {
  plainTarget();
  tlsTarget();
}

/** The cleartext Lanyard. */
export function plainTarget() {
  return {
    publicUrl: trimSlash(env("LANYARD_PUBLIC_URL")),
    adminUrl: trimSlash(env("LANYARD_ADMIN_URL")),
    adminKey: env("LANYARD_ADMIN_KEY"),
    ca: undefined,
  };
}

/** The Lanyard serving TLS on both ports. */
export function tlsTarget() {
  const caPath = env("LANYARD_TLS_CA");
  let ca;
  try {
    ca = readFileSync(caPath);
  } catch (error) {
    throw new Error(`LANYARD_TLS_CA=${caPath} cannot be read: ${error.message}`);
  }
  return {
    publicUrl: trimSlash(env("LANYARD_TLS_PUBLIC_URL")),
    adminUrl: trimSlash(env("LANYARD_TLS_ADMIN_URL")),
    adminKey: env("LANYARD_TLS_ADMIN_KEY"),
    ca,
  };
}

// --------------------------------------------------------------------------- plain HTTP (set-up)

/** One HTTP/1.1 request with node:http(s) (no proxies, no pooling). Resolves {status, body}. */
export function httpJson(target, method, url, { body, headers = {} } = {}) {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const allHeaders = { accept: "application/json", ...headers };
  if (data) {
    allHeaders["content-type"] = "application/json";
    allHeaders["content-length"] = String(data.length);
  }
  const isHttps = url.startsWith("https:");
  const options = { method, headers: allHeaders, agent: false, timeout: REQUEST_TIMEOUT_MS };
  if (isHttps && target.ca) options.ca = target.ca;
  return new Promise((resolve, reject) => {
    const req = (isHttps ? https : http).request(url, options, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let parsed = null;
        if (raw.trim()) {
          try {
            parsed = JSON.parse(raw);
          } catch {
            parsed = raw;
          }
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

/**
 * Creates an identity through the Kratos admin API with a unique email and username and
 * PASSWORD as its password credential.
 */
export async function createUser(target, tag) {
  const suffix = randomUUID().replaceAll("-", "");
  const user = {
    email: `ts-${tag}-${suffix}@example.org`,
    username: `ts-${tag}-${suffix.slice(0, 12)}`,
    name: `TS Contract ${tag}`,
    password: PASSWORD,
  };
  const res = await httpJson(target, "POST", `${target.adminUrl}/admin/identities`, {
    headers: { authorization: `Bearer ${target.adminKey}` },
    body: {
      schema_id: "default",
      traits: { email: user.email, username: user.username, name: user.name },
      credentials: { password: { config: { password: user.password } } },
    },
  });
  if (res.status !== 201 || typeof res.body?.id !== "string") {
    throw new Error(`create identity: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return { ...user, id: res.body.id };
}

export async function deleteUser(target, id) {
  await httpJson(target, "DELETE", `${target.adminUrl}/admin/identities/${id}`, {
    headers: { authorization: `Bearer ${target.adminKey}` },
  });
}

/** The HTTP status of GET {public}/sessions/whoami with this session token. */
export async function whoamiStatus(target, token) {
  const res = await httpJson(target, "GET", `${target.publicUrl}/sessions/whoami`, {
    headers: { "x-session-token": token },
  });
  return res.status;
}

// --------------------------------------------------------------------------- transports

// How many HTTP/1.1 requests node:http(s) has sent to an RPC path. The diagnostics channel sees
// HTTP/1.1 requests only, not HTTP/2 streams, and the suite makes one call at a time, so the
// count's growth during a call tells which HTTP version the transport used.
let http1RpcRequests = 0;
diagnosticsChannel.subscribe("http.client.request.start", ({ request }) => {
  if (request.path.startsWith("/zitadel.session.v2.SessionService/")) http1RpcRequests += 1;
});

/** Records every call's request and response headers (for wire-level assertions). */
function recorder(log) {
  return (next) => async (req) => {
    // req.header is live: interceptors further in (the bearer) and the transport add to it.
    const entry = { url: req.url, request: req.header };
    log.push(entry);
    const http1Before = http1RpcRequests;
    try {
      const res = await next(req);
      entry.response = res.header;
      entry.trailer = res.trailer;
      return res;
    } catch (error) {
      entry.error = error;
      throw error;
    } finally {
      entry.http1Requests = http1RpcRequests - http1Before;
    }
  };
}

/**
 * The headers Login v2 adds to every call when it serves several hosts (its
 * createServerTransport wrapper in apps/login/src/lib/zitadel.ts): which instance and which
 * public host the login is for. Lanyard has one instance and ignores them.
 */
function loginV2Hosts(target) {
  const instanceHost = new URL(target.publicUrl).host;
  return (next) => (req) => {
    req.header.set("x-zitadel-instance-host", instanceHost);
    req.header.set("x-zitadel-public-host", "login.example.org");
    return next(req);
  };
}

/** Sends `Authorization: Bearer <token>`, as @zitadel/client's own interceptor does. */
function bearer(token) {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/**
 * The transports of the suite. `make(target, token, log)` builds one; token `null` sends no
 * Authorization header at all. `requestType` / `responseType` are the Content-Types on the wire,
 * `httpVersion` the HTTP version it must use ("2" over cleartext is h2c with prior knowledge).
 */
export const TRANSPORTS = [
  {
    name: "gRPC, HTTP/2 cleartext (createServerTransport from @zitadel/client/node, as Login v2)",
    target: plainTarget,
    httpVersion: "2",
    requestType: /^application\/grpc(\+proto)?$/,
    responseType: /^application\/grpc(\+proto)?$/,
    make(target, token, log) {
      const options = { baseUrl: target.publicUrl, interceptors: [recorder(log), loginV2Hosts(target)] };
      // createServerTransport always adds its bearer interceptor; without a token, build the
      // very same transport (createGrpcTransport) without it.
      return token === null ? createGrpcTransport(options) : createServerTransport(token, options);
    },
  },
  {
    name: "gRPC, HTTP/2 over TLS (createServerTransport with nodeOptions.ca)",
    target: tlsTarget,
    httpVersion: "2",
    requestType: /^application\/grpc(\+proto)?$/,
    responseType: /^application\/grpc(\+proto)?$/,
    make(target, token, log) {
      // createServerTransport(token, opts) passes opts through to connect-node's
      // createGrpcTransport, whose nodeOptions go to http2.connect(): `ca` trusts the test CA.
      const options = {
        baseUrl: target.publicUrl,
        nodeOptions: { ca: target.ca },
        interceptors: [recorder(log), loginV2Hosts(target)],
      };
      return token === null ? createGrpcTransport(options) : createServerTransport(token, options);
    },
  },
  ...[
    ["Connect, binary protobuf, HTTP/1.1", "1.1", true],
    ["Connect, binary protobuf, HTTP/2 cleartext", "2", true],
    ["Connect, JSON, HTTP/1.1", "1.1", false],
    ["Connect, JSON, HTTP/2 cleartext", "2", false],
  ].map(([name, httpVersion, binary]) => ({
    name: `${name} (createConnectTransport)`,
    target: plainTarget,
    httpVersion,
    requestType: binary ? /^application\/proto$/ : /^application\/json$/,
    responseType: binary ? /^application\/proto$/ : /^application\/json$/,
    make(target, token, log) {
      const interceptors = [recorder(log)];
      if (token !== null) interceptors.unshift(bearer(token));
      return createConnectTransport({
        baseUrl: target.publicUrl,
        httpVersion,
        useBinaryFormat: binary,
        interceptors,
      });
    },
  })),
  {
    name: "gRPC-Web, binary protobuf, HTTP/1.1 (createGrpcWebTransport)",
    target: plainTarget,
    httpVersion: "1.1",
    requestType: /^application\/grpc-web(\+proto)?$/,
    responseType: /^application\/grpc-web(\+proto)?$/,
    make(target, token, log) {
      const interceptors = [recorder(log)];
      if (token !== null) interceptors.unshift(bearer(token));
      return createGrpcWebTransport({
        baseUrl: target.publicUrl,
        httpVersion: "1.1",
        useBinaryFormat: true,
        interceptors,
      });
    },
  },
];

/**
 * A client set for one transport and bearer: `sessions` and `users` are exactly what Login v2
 * uses (createSessionServiceClient and createUserServiceClient from @zitadel/client/v2);
 * `sessionsWithExpiry` the same service from descriptors that also know
 * SearchQuery.expiration_date_query (see below); `log` the recorded exchanges.
 */
export function clientsFor(transportSpec, target, token) {
  const log = [];
  const transport = transportSpec.make(target, token, log);
  return {
    transport,
    log,
    sessions: createSessionServiceClient(transport),
    users: createUserServiceClient(transport),
    sessionsWithExpiry: createClient(SessionServiceWithExpirationQuery, transport),
  };
}

// --------------------------------------------------------------------------- SearchQuery 6

// zitadel.session.v2.SearchQuery has `ExpirationDateQuery expiration_date_query = 6` in
// ZITADEL's proto (and Lanyard's), but @zitadel/proto 1.3.1 (the newest release) was generated
// before it: its SearchQuery oneof stops at user_agent_query = 5, so its descriptors cannot
// send that query at all. For that one query the suite builds the SessionService from
// @zitadel/proto's own file descriptors with the missing message and field added, exactly as in
// zitadel/session/v2/session.proto, and calls it through the same transport.

function allFiles(file, into = new Map()) {
  if (!into.has(file.proto.name)) {
    into.set(file.proto.name, file);
    for (const dep of file.dependencies) allFiles(dep, into);
  }
  return into;
}

function buildSessionServiceWithExpirationQuery() {
  const known = allFiles(file_zitadel_session_v2_session_service);
  const sessionProto = clone(FileDescriptorProtoSchema, file_zitadel_session_v2_session.proto);
  const byName = (name) => sessionProto.messageType.find((m) => m.name === name);
  const searchQuery = byName("SearchQuery");
  const creationDateQuery = byName("CreationDateQuery");
  if (!searchQuery || !creationDateQuery) throw new Error("unexpected @zitadel/proto session.proto");
  if (searchQuery.field.some((f) => f.number === 6)) {
    throw new Error("@zitadel/proto now has SearchQuery field 6: use its descriptors directly");
  }
  const expirationDateQuery = clone(DescriptorProtoSchema, creationDateQuery);
  expirationDateQuery.name = "ExpirationDateQuery";
  expirationDateQuery.field[0].name = "expiration_date";
  expirationDateQuery.field[0].jsonName = "expirationDate";
  sessionProto.messageType.push(expirationDateQuery);
  searchQuery.field.push(
    create(FieldDescriptorProtoSchema, {
      name: "expiration_date_query",
      jsonName: "expirationDateQuery",
      number: 6,
      label: FieldDescriptorProto_Label.OPTIONAL,
      type: FieldDescriptorProto_Type.MESSAGE,
      typeName: ".zitadel.session.v2.ExpirationDateQuery",
      oneofIndex: 0,
    }),
  );
  const sessionRegistry = createFileRegistry(sessionProto, (name) => known.get(name));
  const patchedSession = sessionRegistry.getFile(sessionProto.name);
  const serviceProto = clone(FileDescriptorProtoSchema, file_zitadel_session_v2_session_service.proto);
  const serviceRegistry = createFileRegistry(serviceProto, (name) =>
    name === sessionProto.name ? patchedSession : known.get(name),
  );
  const service = serviceRegistry.getService("zitadel.session.v2.SessionService");
  if (!service) throw new Error("SessionService not found in the patched descriptors");
  return service;
}

export const SessionServiceWithExpirationQuery = buildSessionServiceWithExpirationQuery();

// --------------------------------------------------------------------------- assertions

export { Code, ConnectError, timestampDate };

/** Awaits `promise`, which must reject with a ConnectError of `code`; returns its ErrorDetail. */
export async function expectConnectError(promise, code, errorId) {
  let error;
  try {
    const result = await promise;
    throw new Error(`expected a ConnectError [${Code[code]}], got a response: ${JSON.stringify(result, replacer)}`);
  } catch (caught) {
    if (!(caught instanceof ConnectError)) throw caught;
    error = caught;
  }
  if (error.code !== code) {
    throw new Error(
      `expected code ${Code[code]}, got ${Code[error.code]}: ${error.rawMessage} ` +
        `(details: ${JSON.stringify(error.findDetails(ErrorDetailSchema), replacer)})`,
      { cause: error },
    );
  }
  if (!error.rawMessage || !error.rawMessage.trim()) {
    throw new Error(`the ${Code[code]} error carries no message`, { cause: error });
  }
  const details = error.findDetails(ErrorDetailSchema);
  if (details.length === 0) {
    throw new Error(
      `the ${Code[code]} error carries no zitadel.v1.ErrorDetail (message: ${error.rawMessage}; ` +
        `raw details: ${JSON.stringify(error.details, replacer)})`,
      { cause: error },
    );
  }
  if (errorId !== undefined && details[0].id !== errorId) {
    throw new Error(`expected ErrorDetail id ${errorId}, got ${details[0].id} (${details[0].message})`, {
      cause: error,
    });
  }
  return { error, detail: details[0] };
}

/** JSON.stringify replacer for bigint and Uint8Array. */
export function replacer(_key, value) {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `bytes(${Buffer.from(value).toString("base64")})`;
  return value;
}
