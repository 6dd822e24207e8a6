/**
 * Starts a real Baton (real store, real keys, real HTTP on loopback) for a test, composed by
 * `composeServing` as `baton serve` is, with a policy held in memory and a clock the test
 * controls.
 */

import { createServer } from "node:net";
import { serve } from "@hono/node-server";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { memoryAuditLog } from "../../src/audit/audit-log.js";
import type { AuditEvent } from "../../src/audit/events.js";
import { taskEventFilter } from "../../src/audit/task-tree.js";
import { fixedClock } from "../../src/clock.js";
import type { ExchangeDeps } from "../../src/exchange/types.js";
import { composeServing } from "../../src/main/compose.js";
import { createMetrics, type Metrics } from "../../src/metrics/metrics.js";
import { compilePolicy } from "../../src/policy/load.js";
import type { Policy } from "../../src/policy/types.js";
import { openKeyvStore } from "../../src/store/keyv-store.js";
import type { Store } from "../../src/store/store.js";
import { openKeyRing } from "../../src/tokens/key-ring.js";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../../src/tokens/token-types.js";
import { sha256Hex, testPolicy } from "./policy.js";

export { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE };

/** The clock starts here: 2026-11-26T12:00:00Z. */
export const T0 = 1_795_780_800;

export interface KeyPair {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface TestBroker {
  readonly url: string;
  readonly issuer: string;
  readonly deps: ExchangeDeps;
  readonly policy: Policy;
  readonly store: Store;
  readonly clock: ReturnType<typeof fixedClock>;
  /** Every audit event recorded so far, in order. */
  readonly events: AuditEvent[];
  /** What the HTTP edge handed to `logFailure` (the operator's log), in order. */
  readonly failures: { readonly endpoint: string; readonly err: unknown }[];
  /** The broker's metrics (served at `/metrics`), fed as `baton serve` feeds them. */
  readonly metrics: Metrics;
  /** The trusted outside issuer `https://idp.test` (ES256) and its private key. */
  readonly idp: { readonly issuer: string; readonly key: KeyPair };
  /** The researcher agent's private_key_jwt key (EdDSA). */
  readonly researcherKey: KeyPair;
  /** Client secrets by agent id (the policy keeps only their SHA-256). */
  readonly secrets: Readonly<Record<string, string>>;
  /** Replaces the policy in force (as a hot reload would). */
  setPolicy(policy: Policy): void;
  /** A hot reload of this broker's own policy (the base and its `editPolicy`) with `change` applied. */
  reloadWith(change: (data: Record<string, any>) => void): void;
  /** POSTs a form to a path with `-u agent:secret` credentials (or none). */
  post(path: string, form: Record<string, string | string[]>, agent?: string): Promise<Response>;
  /** A subject token from the development issuer, minted through the core. */
  devToken(
    user: string,
    options?: { agent?: string; scopes?: string[]; ttl?: number; for?: "broker" | "approvals" },
  ): Promise<string>;
  /** A subject token from the trusted outside issuer, signed with its key. */
  idpToken(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Changes to the base test policy, applied before it is compiled. */
  readonly editPolicy?: (data: Record<string, any>) => void;
  /** A store URL; `memory://` by default. */
  readonly store?: string;
  /** Hands the approval page the task events of the in-memory audit (issue 8's tree). */
  readonly taskEvents?: boolean;
}

export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clock = fixedClock(T0);
  const idpKey = await keyPair("ES256");
  const researcherKey = await keyPair("EdDSA");
  const secrets = {
    orchestrator: "orchestrator-test-secret",
    "flight-booker": "flight-booker-test-secret",
    researcher: "researcher-test-secret",
    impersonator: "impersonator-test-secret",
    retired: "retired-test-secret",
  };

  /** The base test policy with this broker's edits: what it starts on, and reloads from. */
  const policyData = () => {
    const data = testPolicy({
      issuer,
      idpJwk: idpKey.publicJwk,
      researcherJwk: researcherKey.publicJwk,
      secrets,
    });
    options.editPolicy?.(data);
    return data;
  };
  const data = policyData();
  const compile = async () => compilePolicy([{ file: "test.yaml", data }]);
  const policy = await compile();

  const metrics = createMetrics();
  const store = await openKeyvStore(options.store ?? "memory://", {
    onError: () => metrics.storeError(),
  });
  const keys = await openKeyRing(store, policy.broker.signingAlg, clock, policy.broker.maxTtl);
  const memoryAudit = memoryAuditLog();
  const failures: { endpoint: string; err: unknown }[] = [];
  // The composition `baton serve` runs, with this test's adapters: its policy held in memory,
  // its store, its clock and an in-memory audit sink (which sees every event as the file would).
  const serving = composeServing({
    issuer,
    policy,
    loadPolicy: compile,
    store,
    keys,
    audit: memoryAudit,
    clock,
    metrics,
    ...(options.taskEvents
      ? {
          readTaskEvents: async (id: string) => memoryAudit.events.filter(taskEventFilter(id)),
        }
      : {}),
    logFailure: (err, endpoint) => {
      failures.push({ endpoint, err });
      // Refusals and fail-closed 503s are expected in tests; anything else is a bug to show.
      const status = (err as { status?: number }).status;
      if (status === undefined || status === 500) console.error("broker failure", err);
    },
  });
  const { deps } = serving;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: serving.fetch, hostname: "127.0.0.1", port }, () => resolve(s));
  });

  const { issueDevToken } = await import("../../src/exchange/operations/issue-dev-token.js");
  return {
    url: issuer,
    issuer,
    deps,
    get policy() {
      return deps.active().policy;
    },
    store,
    clock,
    events: memoryAudit.events,
    failures,
    metrics,
    idp: { issuer: "https://idp.test", key: idpKey },
    researcherKey,
    secrets,
    setPolicy(next) {
      serving.swap(next);
    },
    reloadWith(change) {
      const next = policyData();
      change(next);
      serving.swap(compilePolicy([{ file: "test.yaml", data: next }]));
    },
    post(path, form, agent) {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(form))
        for (const value of [v].flat()) body.append(k, value);
      const headers: Record<string, string> = {
        "content-type": "application/x-www-form-urlencoded",
      };
      if (agent !== undefined) {
        const secret = (secrets as Record<string, string>)[agent] ?? "unknown";
        headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(agent)}:${encodeURIComponent(secret)}`).toString("base64")}`;
      }
      return fetch(`${issuer}${path}`, { method: "POST", headers, body });
    },
    devToken(user, o = {}) {
      return issueDevToken(deps, {
        user,
        ttl: o.ttl ?? 3600,
        ...(o.agent === undefined ? {} : { agent: o.agent }),
        ...(o.scopes === undefined ? {} : { scopes: o.scopes }),
        ...(o.for === undefined ? {} : { for: o.for }),
      });
    },
    idpToken(claims, header = {}) {
      return new SignJWT({
        iss: "https://idp.test",
        aud: issuer,
        iat: clock.now(),
        exp: clock.now() + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: "ES256", kid: "idp-1", ...header })
        .sign(idpKey.privateKey);
    },
    async close() {
      await serving.closeSessions();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

export async function keyPair(alg: "ES256" | "EdDSA", kid?: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    privateKey,
    publicJwk: { ...jwk, alg, kid: kid ?? (alg === "ES256" ? "idp-1" : "researcher-1") },
  };
}

/** A free loopback port: the broker must know its issuer URL before it listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export { sha256Hex };
