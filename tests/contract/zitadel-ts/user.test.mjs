// ZITADEL User Service v2 (the authenticator RPCs) over every transport of lanyard.mjs, driven by
// @zitadel/client's createUserServiceClient as Login v2 uses it: TOTP registered in two steps,
// one-time email codes, a passkey registration waiting for its verification, and who may call.

import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";

import { AuthFactorState } from "@zitadel/proto/zitadel/user/v2/user_pb.js";

import { clientsFor, Code, createUser, deleteUser, expectConnectError, PASSWORD, requireEnvironment, TRANSPORTS } from "./lanyard.mjs";

const TEST_OPTIONS = { timeout: 60_000 };

/** RFC 6238 (HMAC-SHA1, 6 digits, 30 s) from a base32 secret, `steps` periods from now. */
function totp(secret, steps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

for (const spec of TRANSPORTS) {
  describe(`User Service over ${spec.name}`, () => {
    const made = [];
    let target;

    after(async () => {
      for (const id of made) await deleteUser(target, id).catch(() => {});
    });

    it("enrols TOTP in two steps and email codes, and lists a passkey waiting for verification", TEST_OPTIONS, async () => {
      requireEnvironment();
      target = spec.target();
      const admin = clientsFor(spec, target, target.adminKey);
      const user = await createUser(target, `u-${randomUUID().slice(0, 8)}`);
      made.push(user.id);
      const userId = user.id;

      const registered = await admin.users.registerTOTP({ userId });
      assert.match(registered.uri, /^otpauth:\/\/totp\//);
      const wrong = String((Number(totp(registered.secret)) + 1) % 1_000_000).padStart(6, "0");
      await expectConnectError(admin.users.verifyTOTPRegistration({ userId, code: wrong }), Code.InvalidArgument);
      await admin.users.verifyTOTPRegistration({ userId, code: totp(registered.secret) });
      await expectConnectError(admin.users.registerTOTP({ userId }), Code.AlreadyExists);

      await admin.users.addOTPEmail({ userId });
      await admin.users.removeOTPEmail({ userId });
      await expectConnectError(admin.users.removeOTPEmail({ userId }), Code.NotFound, "COMMAND-Hd8Fq");

      const started = await admin.users.registerPasskey({ userId, domain: "localhost" });
      assert.ok(started.passkeyId, "a passkey id");
      const options = started.publicKeyCredentialCreationOptions;
      assert.equal(options?.publicKey?.rp?.id, "localhost", JSON.stringify(options));
      const listed = await admin.users.listPasskeys({ userId });
      assert.deepEqual(
        listed.result.map((p) => [p.id, p.state]),
        [[started.passkeyId, AuthFactorState.NOT_READY]],
      );
      await admin.users.removePasskey({ userId, passkeyId: started.passkeyId });
      assert.equal((await admin.users.listPasskeys({ userId })).result.length, 0);
      await admin.users.removeTOTP({ userId });
    });

    it("lets a user manage its own authenticators and no one else's", TEST_OPTIONS, async () => {
      requireEnvironment();
      target = spec.target();
      const admin = clientsFor(spec, target, target.adminKey);
      const [user, other] = [await createUser(target, `own-${randomUUID().slice(0, 8)}`), await createUser(target, `oth-${randomUUID().slice(0, 8)}`)];
      made.push(user.id, other.id);
      const created = await admin.sessions.createSession({
        checks: { user: { search: { case: "userId", value: user.id } }, password: { password: PASSWORD } },
      });
      const own = clientsFor(spec, target, created.sessionToken);
      await own.users.addOTPEmail({ userId: user.id });
      await expectConnectError(own.users.addOTPEmail({ userId: other.id }), Code.PermissionDenied);
      const anonymous = clientsFor(spec, target, null);
      await expectConnectError(anonymous.users.addOTPEmail({ userId: user.id }), Code.Unauthenticated);
    });
  });
}
