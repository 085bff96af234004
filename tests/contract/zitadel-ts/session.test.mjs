// ZITADEL Session Service v2 contract: Lanyard driven by ZITADEL's official TypeScript client
// (@zitadel/client + @zitadel/proto + connect-es), as ZITADEL's Login v2 uses it.
//
// The same scenario runs over every transport in lanyard.mjs: gRPC (h2c and TLS, built with
// createServerTransport exactly as Login v2 does), Connect (protobuf and JSON, HTTP/1.1 and
// HTTP/2) and gRPC-Web. Each transport gets its own identities (unique emails).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";

import { TimestampQueryMethod } from "@zitadel/proto/zitadel/object_pb.js";
import { SessionFieldName } from "@zitadel/proto/zitadel/session/v2/session_pb.js";

import {
  clientsFor,
  Code,
  createUser,
  deleteUser,
  expectConnectError,
  httpJson,
  PASSWORD,
  replacer,
  requireEnvironment,
  timestampDate,
  TRANSPORTS,
  whoamiStatus,
} from "./lanyard.mjs";

const TEST_OPTIONS = { timeout: 60_000 };
const CLOCK_SLACK_MS = 60_000;
const SERVICE_PATH = "/zitadel.session.v2.SessionService/";
const RPCS = new Set(["CreateSession", "GetSession", "SetSession", "ListSessions", "DeleteSession"]);

const bytes = (text) => new TextEncoder().encode(text);
const show = (value) => JSON.stringify(value, replacer);

function near(timestamp, expectedMs, what) {
  assert.ok(timestamp, `${what} is missing`);
  const ms = timestampDate(timestamp).getTime();
  assert.ok(
    Math.abs(ms - expectedMs) <= CLOCK_SLACK_MS,
    `${what} = ${new Date(ms).toISOString()}, expected about ${new Date(expectedMs).toISOString()}`,
  );
  return ms;
}

// --- request builders (plain objects: connect-es turns them into messages with create())

const userCheck = (user, by = "loginName") => ({
  search: by === "loginName" ? { case: "loginName", value: user.email } : { case: "userId", value: user.id },
});
const q = {
  ids: (...ids) => ({ query: { case: "idsQuery", value: { ids } } }),
  user: (id) => ({ query: { case: "userIdQuery", value: { id } } }),
  created: (creationDate, method) => ({ query: { case: "creationDateQuery", value: { creationDate, method } } }),
  creator: (id) => ({ query: { case: "creatorQuery", value: id === undefined ? {} : { id } } }),
  agent: (fingerprintId) => ({ query: { case: "userAgentQuery", value: { fingerprintId } } }),
  // field 6: only on the patched descriptors (lanyard.mjs, "SearchQuery 6")
  expires: (expirationDate, method) => ({
    query: { case: "expirationDateQuery", value: { expirationDate, method } },
  }),
};
const ascByCreation = { sortingColumn: SessionFieldName.CREATION_DATE, query: { asc: true } };

async function list(client, queries, extra = {}) {
  const resp = await client.listSessions({ queries, ...extra });
  assert.ok(resp.details, `ListSessions without details: ${show(resp)}`);
  return { ids: resp.sessions.map((s) => s.id), total: resp.details.totalResult, resp };
}

for (const spec of TRANSPORTS) {
  describe(spec.name, () => {
    // Set-up shared by the steps of this transport, created on first use. A missing variable
    // or an unreachable Lanyard fails every test of the transport with the reason.
    let basePromise;
    const base = () =>
      (basePromise ??= (async () => {
        requireEnvironment();
        const target = spec.target();
        const admin = clientsFor(spec, target, target.adminKey);
        const tag = randomUUID().slice(0, 8);
        const [user, other] = [await createUser(target, `a-${tag}`), await createUser(target, `b-${tag}`)];
        return { target, admin, user, other, users: [user.id, other.id], tag };
      })());

    // The sessions of the scenario: s1 (user, by login name; 1 h; fp1), then s2 (user, by user
    // id; never expires; fp2), then s3 (other; 10 min; fp3), created in this order.
    let sessionsPromise;
    const sessions = () =>
      (sessionsPromise ??= (async () => {
        const b = await base();
        const fp = (n) => `fp${n}-${b.tag}-${randomUUID()}`;
        const fps = [fp(1), fp(2), fp(3)];
        const createdAt = Date.now();
        const s1 = await b.admin.sessions.createSession({
          checks: { user: userCheck(b.user), password: { password: PASSWORD } },
          metadata: { transport: bytes(spec.name), binary: Uint8Array.from({ length: 256 }, (_, i) => i) },
          userAgent: {
            fingerprintId: fps[0],
            ip: "203.0.113.7",
            description: "zitadel-ts contract",
            header: { "user-agent": { values: ["Mozilla/5.0 (contract)"] }, "accept-language": { values: ["en", "de;q=0.8"] } },
          },
          lifetime: { seconds: 3600n, nanos: 0 },
        });
        const s2 = await b.admin.sessions.createSession({
          checks: { user: userCheck(b.user, "userId"), password: { password: PASSWORD } },
          userAgent: { fingerprintId: fps[1] },
        });
        const s3 = await b.admin.sessions.createSession({
          checks: { user: userCheck(b.other), password: { password: PASSWORD } },
          userAgent: { fingerprintId: fps[2] },
          lifetime: { seconds: 600n, nanos: 0 },
        });
        return { ...b, createdAt, fps, s1, s2, s3, ids: [s1.sessionId, s2.sessionId, s3.sessionId], s1Token: s1.sessionToken };
      })());

    after(async () => {
      if (!basePromise) return;
      const b = await basePromise.catch(() => null);
      for (const id of b?.users ?? []) await deleteUser(b.target, id).catch(() => {});
    });

    it("an IdP intent and a one-time email code step a session up (CreateSession, SetSession)", TEST_OPTIONS, async () => {
      const b = await base();
      const user = await createUser(b.target, `otp-${b.tag}`);
      b.users.push(user.id);
      const admin = (path, body) =>
        httpJson(b.target, "POST", `${b.target.adminUrl}${path}`, {
          headers: { authorization: `Bearer ${b.target.adminKey}` },
          body,
        });
      const enabled = await admin(`/admin/lanyard/identities/${user.id}/credentials/code`, { channel: "email" });
      assert.equal(enabled.status, 200, show(enabled.body));
      const intent = await admin("/admin/lanyard/idp-intents", {
        identity_id: user.id,
        idp_id: "google",
        idp_user_id: `g-${user.id}`,
      });
      assert.equal(intent.status, 201, show(intent.body));

      const created = await b.admin.sessions.createSession({
        checks: {
          user: userCheck(user),
          idpIntent: { idpIntentId: intent.body.idpIntentId, idpIntentToken: intent.body.idpIntentToken },
        },
        challenges: { otpEmail: { deliveryType: { case: "returnCode", value: {} } } },
      });
      const code = created.challenges?.otpEmail;
      assert.match(code ?? "", /^[0-9]{8}$/, `challenges.otpEmail: ${show(created)}`);

      const stepped = await b.admin.sessions.setSession({
        sessionId: created.sessionId,
        checks: { otpEmail: { code } },
      });
      assert.ok(stepped.sessionToken && stepped.sessionToken !== created.sessionToken, show(stepped));
      const { session } = await b.admin.sessions.getSession({ sessionId: created.sessionId });
      assert.ok(session.factors?.intent?.verifiedAt, `factors.intent: ${show(session.factors)}`);
      assert.ok(session.factors?.otpEmail?.verifiedAt, `factors.otpEmail: ${show(session.factors)}`);
      assert.equal(await whoamiStatus(b.target, stepped.sessionToken), 200);

      // Used up: the same code again is a failed check.
      await expectConnectError(
        b.admin.sessions.setSession({ sessionId: created.sessionId, checks: { otpEmail: { code } } }),
        Code.InvalidArgument,
      );
    });

    it("CreateSession with user (login name) and password checks, metadata, user agent and lifetime", TEST_OPTIONS, async () => {
      const { s1, s2, s3, createdAt } = await sessions();
      for (const s of [s1, s2, s3]) {
        assert.match(s.sessionId, /^.{1,200}$/, `sessionId: ${show(s)}`);
        assert.ok(s.sessionToken.length > 0 && s.sessionToken.length <= 200, `sessionToken: ${show(s)}`);
        assert.ok(s.details && s.details.sequence > 0n, `details.sequence: ${show(s.details)}`);
        near(s.details.changeDate, createdAt, "details.changeDate");
      }
      assert.equal(new Set([s1.sessionId, s2.sessionId, s3.sessionId]).size, 3);
      assert.equal(new Set([s1.sessionToken, s2.sessionToken, s3.sessionToken]).size, 3);
    });

    it("GetSession with the returned sessionToken shows the factors, metadata and user agent", TEST_OPTIONS, async () => {
      const { admin, user, s1, createdAt, fps } = await sessions();
      const { session } = await admin.sessions.getSession({ sessionId: s1.sessionId, sessionToken: s1.sessionToken });
      assert.ok(session, "GetSession without a session");
      assert.equal(session.id, s1.sessionId);
      const created = near(session.creationDate, createdAt, "creationDate");
      assert.ok(timestampDate(session.changeDate).getTime() >= created, "changeDate >= creationDate");
      assert.ok(session.sequence >= s1.details.sequence, `sequence ${session.sequence} < ${s1.details.sequence}`);
      near(session.expirationDate, createdAt + 3600_000, "expirationDate (lifetime 3600s)");

      const factors = session.factors;
      assert.ok(factors?.user, `factors.user: ${show(factors)}`);
      assert.equal(factors.user.id, user.id);
      assert.ok(
        [user.email, user.username].includes(factors.user.loginName.toLowerCase()),
        `factors.user.loginName ${factors.user.loginName}`,
      );
      assert.equal(factors.user.displayName, user.name);
      near(factors.user.verifiedAt, createdAt, "factors.user.verifiedAt");
      assert.ok(factors.password, `factors.password: ${show(factors)}`);
      near(factors.password.verifiedAt, createdAt, "factors.password.verifiedAt");
      for (const absent of ["webAuthN", "intent", "totp", "otpSms", "otpEmail"]) {
        assert.equal(factors[absent], undefined, `factors.${absent} was never checked`);
      }

      assert.deepEqual(Object.keys(session.metadata).sort(), ["binary", "transport"]);
      assert.deepEqual(session.metadata.transport, bytes(spec.name));
      assert.deepEqual(session.metadata.binary, Uint8Array.from({ length: 256 }, (_, i) => i));

      const agent = session.userAgent;
      assert.ok(agent, "userAgent");
      assert.equal(agent.fingerprintId, fps[0]);
      assert.equal(agent.ip, "203.0.113.7");
      assert.equal(agent.description, "zitadel-ts contract");
      assert.deepEqual(Object.keys(agent.header).sort(), ["accept-language", "user-agent"]);
      assert.deepEqual(agent.header["user-agent"].values, ["Mozilla/5.0 (contract)"]);
      assert.deepEqual(agent.header["accept-language"].values, ["en", "de;q=0.8"]);
    });

    it("SetSession with a new password check rotates the session token", TEST_OPTIONS, async () => {
      const state = await sessions();
      const { admin, target, s1 } = state;
      const old = state.s1Token;
      assert.equal(await whoamiStatus(target, old), 200, "the token from CreateSession works before the rotation");
      const updated = await admin.sessions.setSession({
        sessionId: s1.sessionId,
        checks: { password: { password: PASSWORD } },
      });
      assert.ok(updated.sessionToken, `SetSession returned no sessionToken: ${show(updated)}`);
      assert.notEqual(updated.sessionToken, old, "the new token differs from the old one");
      assert.ok(updated.details.sequence > s1.details.sequence, "details.sequence grows");
      state.s1Token = updated.sessionToken;

      const { session } = await admin.sessions.getSession({ sessionId: s1.sessionId, sessionToken: updated.sessionToken });
      assert.equal(session.id, s1.sessionId);
      assert.ok(
        timestampDate(session.factors.password.verifiedAt) >= timestampDate(s1.details.changeDate),
        "factors.password.verifiedAt moved to the new check",
      );
      // The old token no longer proves anything: ZITADEL's QUERY-dsfr3, PermissionDenied.
      await expectConnectError(
        admin.sessions.getSession({ sessionId: s1.sessionId, sessionToken: old }),
        Code.PermissionDenied,
        "QUERY-dsfr3",
      );
      assert.equal(await whoamiStatus(target, old), 401, "the old token is dead");
      assert.equal(await whoamiStatus(target, updated.sessionToken), 200, "the new token works");
    });

    it("ListSessions: idsQuery", TEST_OPTIONS, async () => {
      const { admin, ids } = await sessions();
      const [s1, s2, s3] = ids;
      let r = await list(admin.sessions, [q.ids(s1, s2)], ascByCreation);
      assert.deepEqual(r.ids, [s1, s2]);
      assert.equal(r.total, 2n, "details.totalResult");
      r = await list(admin.sessions, [q.ids(s3)]);
      assert.deepEqual(r.ids, [s3]);
      assert.equal(r.total, 1n);
      r = await list(admin.sessions, [q.ids(randomUUID())]);
      assert.deepEqual(r.ids, []);
      assert.equal(r.total, 0n);
      // queries are ANDed
      r = await list(admin.sessions, [q.ids(s1, s3), q.ids(s3, s2)]);
      assert.deepEqual(r.ids, [s3]);
      assert.equal(r.total, 1n);
    });

    it("ListSessions: userIdQuery", TEST_OPTIONS, async () => {
      const { admin, ids, user, other } = await sessions();
      const [s1, s2, s3] = ids;
      let r = await list(admin.sessions, [q.user(user.id)], ascByCreation);
      assert.deepEqual(r.ids, [s1, s2]);
      assert.equal(r.total, 2n);
      assert.ok(r.resp.sessions.every((s) => s.factors?.user?.id === user.id));
      r = await list(admin.sessions, [q.user(user.id)], { sortingColumn: SessionFieldName.CREATION_DATE, query: { asc: false } });
      assert.deepEqual(r.ids, [s2, s1], "descending");
      r = await list(admin.sessions, [q.user(user.id)], { ...ascByCreation, query: { asc: true, limit: 1 } });
      assert.deepEqual(r.ids, [s1], "limit 1");
      assert.equal(r.total, 2n, "totalResult counts before the limit");
      r = await list(admin.sessions, [q.user(user.id)], { ...ascByCreation, query: { asc: true, limit: 1, offset: 1n } });
      assert.deepEqual(r.ids, [s2], "offset 1");
      assert.equal(r.total, 2n);
      r = await list(admin.sessions, [q.user(other.id)]);
      assert.deepEqual(r.ids, [s3]);
      assert.equal(r.total, 1n);
      r = await list(admin.sessions, [q.user(randomUUID())]);
      assert.deepEqual(r.ids, []);
      assert.equal(r.total, 0n);
    });

    it("ListSessions: creationDateQuery with every TimestampQueryMethod", TEST_OPTIONS, async () => {
      const { admin, ids } = await sessions();
      const [s1, s2, s3] = ids;
      const { session } = await admin.sessions.getSession({ sessionId: s2 });
      const at = session.creationDate;
      const expected = [
        [TimestampQueryMethod.EQUALS, [s2]],
        [TimestampQueryMethod.GREATER, [s3]],
        [TimestampQueryMethod.GREATER_OR_EQUALS, [s2, s3]],
        [TimestampQueryMethod.LESS, [s1]],
        [TimestampQueryMethod.LESS_OR_EQUALS, [s1, s2]],
      ];
      for (const [method, wanted] of expected) {
        const r = await list(admin.sessions, [q.ids(...ids), q.created(at, method)], ascByCreation);
        const what = `${TimestampQueryMethod[method]} ${timestampDate(at).toISOString()} (${at.seconds}s ${at.nanos}ns)`;
        assert.deepEqual(r.ids, wanted, what);
        assert.equal(r.total, BigInt(wanted.length), `totalResult, ${what}`);
      }
    });

    it("ListSessions: creatorQuery", TEST_OPTIONS, async () => {
      const { admin, ids, user } = await sessions();
      // Without an id: sessions created by the caller (this API key), which made all three.
      let r = await list(admin.sessions, [q.ids(...ids), q.creator()], ascByCreation);
      assert.deepEqual(r.ids, ids);
      assert.equal(r.total, 3n);
      for (const stranger of [randomUUID(), user.id]) {
        r = await list(admin.sessions, [q.ids(...ids), q.creator(stranger)]);
        assert.deepEqual(r.ids, [], `creator ${stranger} made none of them`);
        assert.equal(r.total, 0n);
      }
    });

    it("ListSessions: userAgentQuery", TEST_OPTIONS, async () => {
      const { admin, ids, fps } = await sessions();
      for (const [i, fp] of fps.entries()) {
        const r = await list(admin.sessions, [q.agent(fp)]);
        assert.deepEqual(r.ids, [ids[i]], `fingerprint ${fp}`);
        assert.equal(r.total, 1n);
      }
      const r = await list(admin.sessions, [q.agent(`fp-${randomUUID()}`)]);
      assert.deepEqual(r.ids, []);
      assert.equal(r.total, 0n);
    });

    it("ListSessions: expirationDateQuery (SearchQuery field 6, absent from @zitadel/proto 1.3.1)", TEST_OPTIONS, async () => {
      const { admin, ids } = await sessions();
      const [s1, s2, s3] = ids; // 1 h, never, 10 min
      const cut = { seconds: BigInt(Math.floor(Date.now() / 1000) + 1800), nanos: 0 };
      const expected = [
        [TimestampQueryMethod.GREATER, [s1, s2]],
        [TimestampQueryMethod.GREATER_OR_EQUALS, [s1, s2]],
        [TimestampQueryMethod.LESS, [s3]],
        [TimestampQueryMethod.LESS_OR_EQUALS, [s3]],
      ];
      for (const [method, wanted] of expected) {
        const r = await list(admin.sessionsWithExpiry, [q.ids(...ids), q.expires(cut, method)], ascByCreation);
        assert.deepEqual(r.ids, wanted, `${TimestampQueryMethod[method]} now+30min (never-expiring counts as later)`);
        assert.equal(r.total, BigInt(wanted.length));
      }
      const { session } = await admin.sessions.getSession({ sessionId: s1 });
      const r = await list(admin.sessionsWithExpiry, [q.ids(...ids), q.expires(session.expirationDate, TimestampQueryMethod.EQUALS)]);
      assert.deepEqual(r.ids, [s1], "EQUALS the exact expirationDate of s1");
      assert.equal(r.total, 1n);
    });

    it("DeleteSession (by the API key, and with the session token as Login v2's logout does), then GetSession is NotFound (QUERY-SFeaa)", TEST_OPTIONS, async () => {
      const state = await sessions();
      const { admin, target, ids, user } = state;
      const [s1, s2, s3] = ids;
      const deleted = await admin.sessions.deleteSession({ sessionId: s1 });
      assert.ok(deleted.details, `DeleteSession returns details: ${show(deleted)}`);
      const { detail } = await expectConnectError(
        admin.sessions.getSession({ sessionId: s1 }),
        Code.NotFound,
        "QUERY-SFeaa",
      );
      assert.ok(detail.message, "ErrorDetail.message");
      assert.equal(await whoamiStatus(target, state.s1Token), 401, "the deleted session's token is dead");
      let r = await list(admin.sessions, [q.ids(s1)]);
      assert.deepEqual(r.ids, []);
      assert.equal(r.total, 0n);
      r = await list(admin.sessions, [q.user(user.id)]);
      assert.deepEqual(r.ids, [s2], "the other session of the user stays");
      assert.equal(r.total, 1n);
      // Deleting it again succeeds (ZITADEL semantics).
      await admin.sessions.deleteSession({ sessionId: s1 });

      // With a sessionToken, the token must be the session's own: another session's is refused.
      await expectConnectError(
        admin.sessions.deleteSession({ sessionId: s2, sessionToken: state.s3.sessionToken }),
        Code.PermissionDenied,
        "COMMAND-sGr42",
      );
      assert.equal(await whoamiStatus(target, state.s2.sessionToken), 200, "the refused delete left s2 alive");
      await admin.sessions.deleteSession({ sessionId: s2, sessionToken: state.s2.sessionToken });
      await expectConnectError(admin.sessions.getSession({ sessionId: s2 }), Code.NotFound, "QUERY-SFeaa");
      assert.equal(await whoamiStatus(target, state.s2.sessionToken), 401);
      r = await list(admin.sessions, [q.ids(...ids)]);
      assert.deepEqual(r.ids, [s3], "only the other user's session is left");
      assert.equal(r.total, 1n);
    });

    it("no Authorization header: Unauthenticated (AUTH-7fs1e)", TEST_OPTIONS, async () => {
      const { target } = await base();
      const anonymous = clientsFor(spec, target, null);
      await expectConnectError(anonymous.sessions.listSessions({}), Code.Unauthenticated, "AUTH-7fs1e");
      await expectConnectError(anonymous.sessions.getSession({ sessionId: randomUUID() }), Code.Unauthenticated, "AUTH-7fs1e");
      for (const entry of anonymous.log) {
        assert.equal(entry.request.get("authorization"), null, "no Authorization header was sent");
      }
    });

    it("an invalid bearer: Unauthenticated (AUTH-7fs1e)", TEST_OPTIONS, async () => {
      const { target } = await base();
      for (const token of ["not-a-key-or-token", `lanyard_ak_${"A".repeat(43)}`, `lanyard_st_${"A".repeat(43)}`]) {
        const stranger = clientsFor(spec, target, token);
        await expectConnectError(stranger.sessions.listSessions({}), Code.Unauthenticated, "AUTH-7fs1e");
        await expectConnectError(
          stranger.sessions.createSession({ checks: {} }),
          Code.Unauthenticated,
          "AUTH-7fs1e",
        );
        assert.equal(stranger.log[0].request.get("authorization"), `Bearer ${token}`);
      }
    });

    it("GetSession of an unknown session id: NotFound (QUERY-SFeaa)", TEST_OPTIONS, async () => {
      const { admin } = await base();
      await expectConnectError(admin.sessions.getSession({ sessionId: randomUUID() }), Code.NotFound, "QUERY-SFeaa");
    });

    it("ListSessions with query.limit 1001: InvalidArgument (QUERY-4M0fs)", TEST_OPTIONS, async () => {
      const { admin } = await base();
      await expectConnectError(
        admin.sessions.listSessions({ query: { limit: 1001 } }),
        Code.InvalidArgument,
        "QUERY-4M0fs",
      );
      // 1000 is the largest limit allowed
      const r = await list(admin.sessions, [q.ids(randomUUID())], { query: { limit: 1000 } });
      assert.equal(r.total, 0n);
    });

    it("CreateSession with a wrong password: InvalidArgument (COMMAND-3M0fs), no session made", TEST_OPTIONS, async () => {
      const { admin, target, users } = await base();
      const victim = await createUser(target, "wrongpw");
      users.push(victim.id);
      await expectConnectError(
        admin.sessions.createSession({ checks: { user: userCheck(victim), password: { password: "not-the-password" } } }),
        Code.InvalidArgument,
        "COMMAND-3M0fs",
      );
      const r = await list(admin.sessions, [q.user(victim.id)]);
      assert.deepEqual(r.ids, [], "a refused CreateSession leaves no session behind");
      assert.equal(r.total, 0n);
    });

    it("wire: every call went to /zitadel.session.v2.SessionService/<Rpc> with the transport's content type, HTTP version and the bearer", TEST_OPTIONS, async () => {
      const { admin, target } = await base();
      assert.ok(admin.log.length >= 10, `recorded ${admin.log.length} calls`);
      for (const entry of admin.log) {
        const url = new URL(entry.url);
        assert.equal(`${url.protocol}//${url.host}`, target.publicUrl);
        assert.ok(url.pathname.startsWith(SERVICE_PATH), url.pathname);
        assert.ok(RPCS.has(url.pathname.slice(SERVICE_PATH.length)), url.pathname);
        assert.match(entry.request.get("content-type") ?? "", spec.requestType, `request content-type of ${url.pathname}`);
        assert.equal(entry.request.get("authorization"), `Bearer ${target.adminKey}`);
        assert.equal(
          entry.http1Requests,
          spec.httpVersion === "1.1" ? 1 : 0,
          `HTTP/1.1 requests sent for ${url.pathname} (the transport must use HTTP/${spec.httpVersion})`,
        );
        if (entry.response) {
          assert.match(entry.response.get("content-type") ?? "", spec.responseType, `response content-type of ${url.pathname}`);
        } else {
          assert.ok(entry.error, `${url.pathname}: neither a response nor an error`);
        }
      }
    });
  });
}
