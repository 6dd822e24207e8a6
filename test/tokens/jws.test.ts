/**
 * tokens/jws.ts against jose, the library it replaces on the hot path (issue 7): every
 * algorithm the policy schema allows verifies jose's tokens, jose verifies Baton's, and every
 * irregularity jose refuses is refused here too (or more strictly).
 */

import { sign as cryptoSign, generateKeyPairSync, KeyObject } from "node:crypto";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { JWS_ALGORITHMS } from "../../src/policy/schema.js";
import { type ClaimChecks, decodeJwt, signJwt, verifyJwt } from "../../src/tokens/jws.js";

const NOW = 1_800_000_000;
const ISS = "https://idp.example.com";
const claims = () => ({
  iss: ISS,
  sub: "alice",
  aud: "https://broker.example.com",
  iat: NOW,
  exp: NOW + 300,
  jti: "j1",
});
const checks = (alg: string, extra: Partial<ClaimChecks> = {}): ClaimChecks => ({
  algorithms: [alg],
  issuer: ISS,
  audience: ["https://broker.example.com"],
  requiredClaims: ["sub", "exp"],
  now: NOW,
  clockTolerance: 0,
  ...extra,
});

async function keysFor(alg: string): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey: KeyObject.from(privateKey), publicKey: KeyObject.from(publicKey) };
}

const b64url = (text: string) => Buffer.from(text).toString("base64url");
const verify = (token: string, key: KeyObject, c: ClaimChecks) =>
  verifyJwt(decodeJwt(token), key, c);
const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { reason?: string }).reason;
  }
  return "accepted";
};

describe("tokens/jws: interoperates with jose for every allowed algorithm", () => {
  for (const alg of JWS_ALGORITHMS) {
    it(`${alg}: jose signs, Baton verifies; Baton signs, jose verifies`, async () => {
      const { privateKey, publicKey } = await keysFor(alg);
      const fromJose = await new SignJWT(claims())
        .setProtectedHeader({ alg, typ: "at+jwt", kid: "k" })
        .sign(privateKey);
      expect(verify(fromJose, publicKey, checks(alg, { typ: "application/at+JWT" }))).toMatchObject(
        {
          sub: "alice",
        },
      );
      const fromBaton = signJwt({ alg, typ: "at+jwt", kid: "k" }, claims(), privateKey);
      const { payload, protectedHeader } = await jwtVerify(fromBaton, publicKey, {
        issuer: ISS,
        currentDate: new Date(NOW * 1000),
        typ: "at+jwt",
      });
      expect(payload.sub).toBe("alice");
      expect(protectedHeader).toEqual({ alg, typ: "at+jwt", kid: "k" });
    });
  }
});

describe("tokens/jws: refusals", () => {
  it("a key of the wrong type or size for the alg", async () => {
    const ed = await keysFor("EdDSA");
    const token = signJwt({ alg: "EdDSA", typ: "JWT", kid: "k" }, claims(), ed.privateKey);
    const p256 = await keysFor("ES256");
    expect(reason(() => verify(token, p256.publicKey, checks("EdDSA")))).toBe("key");
    // An ES256 header with a P-384 key, and RSA below 2048 bits (RFC 7518 §3.3).
    const p384 = await keysFor("ES384");
    const es = await new SignJWT(claims())
      .setProtectedHeader({ alg: "ES256" })
      .sign(p256.privateKey);
    expect(reason(() => verify(es, p384.publicKey, checks("ES256")))).toBe("key");
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(() =>
      signJwt({ alg: "RS256", typ: "JWT", kid: "k" }, claims(), small.privateKey),
    ).toThrow(/key/);
  });

  it("alg none, HS256 and any alg outside the allowed list, before any key is used", async () => {
    const { publicKey } = await keysFor("EdDSA");
    const body = Buffer.from(JSON.stringify(claims())).toString("base64url");
    for (const alg of ["none", "HS256", "ES256", "RS256"]) {
      const header = Buffer.from(JSON.stringify({ alg })).toString("base64url");
      expect(reason(() => verify(`${header}.${body}.AAAA`, publicKey, checks("EdDSA")))).toBe(
        "alg",
      );
    }
  });

  it("a crit or b64 header (RFC 7515 §4.1.11, RFC 7797)", async () => {
    const { privateKey, publicKey } = await keysFor("EdDSA");
    for (const extra of [{ crit: ["exp"] }, { b64: true }, { crit: [] }]) {
      const token = signJwt({ alg: "EdDSA", typ: "JWT", kid: "k", ...extra }, claims(), privateKey);
      expect(reason(() => verify(token, publicKey, checks("EdDSA")))).toBe("crit");
    }
  });

  it("a changed payload, a changed signature, an ECDSA signature of the wrong length", async () => {
    const ed = await keysFor("EdDSA");
    const token = signJwt({ alg: "EdDSA", typ: "JWT", kid: "k" }, claims(), ed.privateKey);
    const [h, , s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claims(), sub: "mallory" })).toString(
      "base64url",
    );
    expect(reason(() => verify(`${h}.${forged}.${s}`, ed.publicKey, checks("EdDSA")))).toBe(
      "signature",
    );
    const flipped = `${(s as string).slice(0, -2)}${(s as string).endsWith("AA") ? "BA" : "AA"}`;
    expect(
      reason(() => verify(`${h}.${token.split(".")[1]}.${flipped}`, ed.publicKey, checks("EdDSA"))),
    ).toBe("signature");
    const p256 = await keysFor("ES256");
    const es = signJwt({ alg: "ES256", typ: "JWT", kid: "k" }, claims(), p256.privateKey);
    const der = `${es.split(".").slice(0, 2).join(".")}.${Buffer.alloc(70, 1).toString("base64url")}`;
    expect(reason(() => verify(der, p256.publicKey, checks("ES256")))).toBe("signature");
  });

  it("non-canonical base64url, padding, stray characters, a JSON array, not three parts", async () => {
    const { privateKey, publicKey } = await keysFor("EdDSA");
    const token = signJwt({ alg: "EdDSA", typ: "JWT", kid: "k" }, claims(), privateKey);
    const [h, p, s] = token.split(".") as [string, string, string];
    const array = Buffer.from("[1]").toString("base64url");
    for (const bad of [
      `${h}=.${p}.${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`,
      `${h}.${p} .${s}`,
      `${h}.${array}.${s}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p.slice(0, -1)}`,
    ]) {
      expect(reason(() => verify(bad, publicKey, checks("EdDSA")))).toBe("malformed");
    }
    // The last character of a part may carry unused bits (RFC 4648 §3.5): a spelling with one
    // of them set decodes to the same bytes, and is refused. An Ed25519 signature is 86
    // characters: its last one carries 4 unused bits.
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    expect(s.length % 4).toBe(2);
    const value = ALPHABET.indexOf(s.at(-1) as string);
    const sibling = ALPHABET.charAt(value ^ 1);
    expect(Buffer.from(`${s.slice(0, -1)}${sibling}`, "base64url")).toEqual(
      Buffer.from(s, "base64url"),
    );
    expect(
      reason(() => verify(`${h}.${p}.${s.slice(0, -1)}${sibling}`, publicKey, checks("EdDSA"))),
    ).toBe("malformed");
  });

  it("claims: typ, iss, aud, required, non-numeric and infinite dates, nbf, exp (jose's comparisons)", async () => {
    const { privateKey, publicKey } = await keysFor("EdDSA");
    const sign = (over: Record<string, unknown>, typ = "JWT") =>
      signJwt({ alg: "EdDSA", typ, kid: "k" }, { ...claims(), ...over }, privateKey);
    const c = checks("EdDSA");
    expect(reason(() => verify(sign({}), publicKey, { ...c, typ: "at+jwt" }))).toBe("claim.typ");
    expect(reason(() => verify(sign({ iss: "https://evil" }), publicKey, c))).toBe("claim.iss");
    expect(reason(() => verify(sign({ aud: ["x", "y"] }), publicKey, c))).toBe("claim.aud");
    expect(reason(() => verify(sign({ aud: undefined }), publicKey, c))).toBe("claim.aud");
    expect(reason(() => verify(sign({ sub: undefined }), publicKey, c))).toBe("claim.sub");
    expect(reason(() => verify(sign({ iat: "now" }), publicKey, c))).toBe("claim.iat");
    expect(reason(() => verify(sign({ nbf: NOW + 1 }), publicKey, c))).toBe("claim.nbf");
    expect(reason(() => verify(sign({ exp: NOW }), publicKey, c))).toBe("expired");
    expect(reason(() => verify(sign({ exp: NOW }), publicKey, { ...c, clockTolerance: 1 }))).toBe(
      "accepted",
    );
    // 1e999 parses as Infinity: a token that never expires is refused, not trusted forever.
    const input = `${b64url('{"alg":"EdDSA"}')}.${b64url(
      `{"iss":"${ISS}","sub":"a","aud":"https://broker.example.com","exp":1e999}`,
    )}`;
    const infinite = `${input}.${cryptoSign(null, Buffer.from(input), privateKey).toString("base64url")}`;
    expect(reason(() => verify(infinite, publicKey, c))).toBe("claim.exp");
    expect(
      reason(() => verify(sign({ aud: ["x", "https://broker.example.com"] }), publicKey, c)),
    ).toBe("accepted");
  });
});
