/**
 * The floor: jose sign + verify pairs per second for one algorithm, in this one process. Each
 * pair is the crypto of one exchange: verify a subject token, sign a new access token with
 * `act`. Run one at a time, then with 50 pairs in flight (WebCrypto work then spreads over
 * the libuv threadpool: on an unpinned process, over every core).
 *
 * Also, for reference, the same pair through Baton's own path (src/tokens/jws.ts: synchronous
 * node:crypto, which Baton uses since issue 7): one at a time, as synchronous calls cannot be
 * in flight together.
 *
 * Usage: node --import tsx bench/floor.ts ALG SECONDS [node]   (prints JSON on stdout; with
 * `node`, only Baton's path: BENCH_ONLY=latency needs no more)
 */

import { KeyObject, randomBytes } from "node:crypto";
import { type CryptoKey, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { decodeJwt, signJwt, verifyJwt } from "../src/tokens/jws.js";

const alg = process.argv[2] ?? "EdDSA";
const seconds = Number(process.argv[3] ?? 3);
const nodeOnly = process.argv[4] === "node";
const IN_FLIGHT = 50;

const { privateKey, publicKey } = await generateKeyPair(alg, { crv: "Ed25519" });
const ISS = "http://127.0.0.1:8787";
const AUD = "https://api3.bench.example";

/** An access token like Baton's (design §3.4): 10 claims, a nested `act`. */
const claims = () => {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISS,
    sub: "user-17@example.com",
    aud: AUD,
    client_id: "a1",
    scope: "api3.read",
    iat: now,
    exp: now + 300,
    jti: randomBytes(16).toString("base64url"),
    act: { sub: "a1" },
  };
};

function sign(key: CryptoKey): Promise<string> {
  return new SignJWT(claims()).setProtectedHeader({ alg, typ: "at+jwt", kid: "k1" }).sign(key);
}

const privateObject = KeyObject.from(privateKey);
const publicObject = KeyObject.from(publicKey);

/** The same pair on Baton's path: node:crypto, synchronous. */
function nodePair(): void {
  const token = signJwt({ alg, typ: "at+jwt", kid: "k1" }, claims(), privateObject);
  verifyJwt(decodeJwt(token), publicObject, {
    algorithms: [alg],
    issuer: ISS,
    audience: [AUD],
    requiredClaims: ["sub", "exp"],
    now: Math.floor(Date.now() / 1000),
    clockTolerance: 0,
  });
}

function measureNode(): number {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) nodePair();
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function pair(): Promise<void> {
  const token = await sign(privateKey);
  await jwtVerify(token, publicKey, {
    issuer: ISS,
    audience: AUD,
    algorithms: [alg],
    requiredClaims: ["sub", "exp"],
  });
}

async function measure(inFlight: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await pair();
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((performance.now() - t0) / 1000);
}

async function measureJose(): Promise<{ sequential: number; concurrent: number }> {
  // Warm up the JIT and WebCrypto before either measurement.
  for (let i = 0; i < 500; i++) await pair();
  const sequential = await measure(1);
  const concurrent = await measure(IN_FLIGHT);
  return { sequential, concurrent };
}

const jose = nodeOnly ? {} : { ...(await measureJose()), inFlight: IN_FLIGHT };
for (let i = 0; i < 500; i++) nodePair();
const nodeSequential = measureNode();
process.stdout.write(`${JSON.stringify({ alg, ...jose, nodeSequential })}\n`);
