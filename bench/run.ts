/**
 * `npm run bench`: Baton's throughput and latency beside the limits of this machine, in one
 * run. It starts everything it measures on loopback (each server pinned to CPU 0, the load
 * generator to CPU 1 when taskset exists), loads each with the same autocannon settings,
 * prints one table and writes bench/results/latest.json. A benchmark, not a test: a missed
 * target prints MISS and the exit code stays 0 (design §8).
 *
 * Settings (env): BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 1; plus
 * BENCH_SERVER_WARMUP, default 3, before the first scenario of each fresh server), BENCH_ROUNDS
 * (alternating rounds of the /token distinct and repeated scenarios, default 3), BENCH_ALG
 * (EdDSA | ES256, default EdDSA), BENCH_MEMORY_EXCHANGES (default 100000), BENCH_PIN=0 (no
 * CPU pinning), BENCH_KEEP=1 (keep the temp dir: logs, policies, stores), BENCH_ONLY=audit-sync
 * (only the /token distinct row without and with --audit-sync; writes latest-audit-sync.json),
 * BENCH_ONLY=latency (only what the latency rows need: the node:crypto floor, /token distinct
 * for the rate, then the latency rows; writes latest-latency.json).
 *
 * The latency rows (bench/open-loop.ts, in every round): BENCH_OPEN_LOAD (the open loop's rate
 * as a share of the round's /token distinct req/s, default 0.25), BENCH_OPEN_SECONDS (default
 * 10, after BENCH_OPEN_WARMUP, default 1), BENCH_SEQUENTIAL_REQUESTS (one at a time, default
 * 3000, after BENCH_SEQUENTIAL_WARMUP, default 300).
 */

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { checkAccessToken, exchange, FORM, type TokenResponse } from "./lib/exchange.js";
import {
  AGENTS,
  accessBody,
  apiResource,
  basicAuth,
  delegationBody,
  IDP_ISSUER,
  type Idp,
  makeIdp,
  makeSecrets,
  mintMany,
  mintSubject,
  peerBody,
  privateJwk,
  TOKEN_TYPE,
  writeBodies,
  writePolicy,
} from "./lib/fixture.js";
import type { RequestSpec } from "./lib/latency.js";
import {
  type LatencyRound,
  type LatencySettings,
  measureLatencyRound,
} from "./lib/latency-round.js";
import { latencyNotes, latencyRows } from "./lib/latency-rows.js";
import { type LoadResult, type LoadSpec, runLoad } from "./lib/load.js";
import { callTool, type McpSession, openSession, toolCallBody } from "./lib/mcp.js";
import {
  CPU,
  freePort,
  killAll,
  PINNED,
  ROOT,
  rssMiB,
  runJson,
  sleep,
  sourceState,
} from "./lib/proc.js";
import { type Server, startBaton, startEcho, startHello, startPeer } from "./lib/servers.js";
import { median, medianBy } from "./lib/stats.js";
import { type Check, passes, type Row, renderTable } from "./lib/table.js";

const num = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number(v);
};

const SETTINGS = {
  duration: num("BENCH_DURATION", 5),
  warmup: num("BENCH_WARMUP", 1),
  /** Extra warm-up before the first scenario of each freshly started server (JIT, store). */
  serverWarmup: num("BENCH_SERVER_WARMUP", 3),
  /** Alternating rounds of the /token distinct (10 and 10,000 APIs) and repeated scenarios. */
  rounds: num("BENCH_ROUNDS", 3),
  connections: 50,
  alg: process.env.BENCH_ALG ?? "EdDSA",
  floorSeconds: 3,
  memoryExchanges: num("BENCH_MEMORY_EXCHANGES", 100_000),
  /** Distinct subject tokens minted: enough that no scenario sends one twice. */
  tokens: Math.max(num("BENCH_MEMORY_EXCHANGES", 100_000), 60_000),
  pinned: PINNED,
  latency: {
    load: num("BENCH_OPEN_LOAD", 0.25),
    openSeconds: num("BENCH_OPEN_SECONDS", 10),
    openWarmup: num("BENCH_OPEN_WARMUP", 1),
    sequentialRequests: num("BENCH_SEQUENTIAL_REQUESTS", 3000),
    sequentialWarmup: num("BENCH_SEQUENTIAL_WARMUP", 300),
  } satisfies LatencySettings,
  /** A selection of rows: `audit-sync`, `latency`, or everything when empty. */
  only: process.env.BENCH_ONLY ?? "",
};

const SELECTIONS = ["", "audit-sync", "latency"];

interface Floor {
  readonly alg: string;
  readonly sequential: number;
  readonly concurrent: number;
  readonly inFlight: number;
  /** The pair on Baton's own path (tokens/jws.ts, synchronous node:crypto). */
  readonly nodeSequential: number;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** CPU (% of one core) other processes may use during a scenario before it is called skewed. */
const NOISY_CPU = 15;

async function main(): Promise<void> {
  if (!SELECTIONS.includes(SETTINGS.only)) {
    throw new Error(`BENCH_ONLY: "${SETTINGS.only}" is not one of: ${SELECTIONS.join(", ")}`);
  }
  const started = Date.now();
  const load0 = loadavg();
  const source = sourceState();
  const tmp = await mkdtemp(join(tmpdir(), "baton-bench-"));
  const stopOnSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  say(
    `baton bench: ${SETTINGS.connections} connections, ${SETTINGS.warmup} s warm-up (+${SETTINGS.serverWarmup} s on a fresh server) + ${SETTINGS.duration} s per scenario, ${SETTINGS.alg}, ` +
      (PINNED
        ? `servers on CPU ${CPU.server}, load generator on CPU ${CPU.load}`
        : "no CPU pinning"),
  );
  say(`load average at start: ${load0.map((l) => l.toFixed(2)).join(" ")}; temp dir ${tmp}`);
  if ((load0[0] ?? 0) > 0.5) {
    say("warning: this machine is busy: every figure will be lower and noisier than it should");
  }
  try {
    const only: Record<string, (tmp: string) => Promise<Selection>> = {
      "audit-sync": auditSyncOnly,
      latency: latencyOnly,
    };
    const measured = await (only[SETTINGS.only] ?? all)(tmp);
    const { rows } = measured;
    const table = renderTable(rows);
    process.stdout.write(`\n${table}\n\n`);
    const targets = rows.flatMap((r) =>
      r.checks
        .filter((c) => c.op !== undefined)
        .map((c) => ({ scenario: r.scenario, ...c, pass: passes(c) })),
    );
    const missed = targets.filter((t) => t.pass === false).length;
    const notes = [
      `* median of ${SETTINGS.rounds} rounds; ${measured.eachRound}`,
      ...(targets.length > 0
        ? [`${targets.length - missed} of ${targets.length} targets met.`]
        : []),
      ...(source
        ? [
            `Measured commit ${source.commit}` +
              (source.changedInSrc.length > 0
                ? ` plus uncommitted changes in ${source.changedInSrc.join(", ")}.`
                : " (src/ unchanged)."),
          ]
        : []),
      ...measured.notes,
      `Took ${Math.round((Date.now() - started) / 1000)} s; load average at end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}.`,
    ];
    process.stdout.write(`${notes.join("\n")}\n`);
    const dir = join(ROOT, "bench/results");
    await mkdir(dir, { recursive: true });
    const file = join(dir, SETTINGS.only ? `latest-${SETTINGS.only}.json` : "latest.json");
    await writeFile(
      file,
      `${JSON.stringify(
        {
          date: new Date(started).toISOString(),
          machine: {
            node: process.version,
            cpus: cpus().length,
            cpu: cpus()[0]?.model,
            loadavgStart: load0,
            loadavgEnd: loadavg(),
          },
          source,
          settings: SETTINGS,
          ...measured.data,
          targets,
          table,
          notes,
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(`Wrote ${file}\n`);
  } finally {
    killAll();
    if (process.env.BENCH_KEEP === "1") say(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }
}

/** A scenario's figures; with rounds, those of the median round, and every round. */
type Measured = LoadResult & { readonly rounds?: readonly LoadResult[] };

interface Results {
  readonly floor: { readonly pinned: Floor; readonly bothCores?: Floor };
  readonly loads: Record<string, Measured>;
  readonly memory: {
    readonly exchanges: number;
    readonly rssBeforeMiB: number;
    readonly rssAfterMiB: number;
    readonly growthMiB: number;
    readonly load: LoadResult;
  };
  /** The latency rows' runs, round by round. */
  readonly latency: readonly LatencyRound[];
  readonly notes: string[];
}

/** What a selection of rows measured: the rows, the notes and the figures for the JSON file. */
interface Selection {
  readonly rows: Row[];
  readonly notes: string[];
  /** What one round runs, for the note under the table. */
  readonly eachRound: string;
  readonly data: Record<string, unknown>;
}

/** What the latency part of a round runs, for the note under the table. */
const LATENCY_ROUND = `the open loop at ${Math.round(SETTINGS.latency.load * 100)}% of the round's /token distinct req/s and one request at a time, each for /token distinct, MCP request_token and hello world`;

const ROUND_RATIOS =
  "The MCP bound, request_token / bound and the latency rows' ratios are the median of each round's own ratio (every round in the JSON file).";

/** Every row: `npm run bench`. */
async function all(tmp: string): Promise<Selection> {
  const results = await measureAll(tmp);
  return {
    rows: tableRows(results),
    notes: [...results.notes, ...latencyNotes(results.latency, NOISY_CPU), ROUND_RATIOS],
    eachRound:
      `each round runs the floor (CPU ${CPU.server}), the peer, the /token rows (distinct, with --audit-sync, 10,000 APIs, repeated), MCP echo and MCP request_token, ` +
      `then ${LATENCY_ROUND}, in that order.`,
    data: {
      floor: results.floor,
      scenarios: results.loads,
      mcpBound: mcpBound(results.loads),
      memory: results.memory,
      latency: { settings: SETTINGS.latency, rounds: results.latency },
    },
  };
}

/** Records a scenario's figures into `loads`, says them, and notes what went wrong. */
function recorder(loads: Record<string, Measured>, notes: string[]) {
  return (id: string, mid: LoadResult, rounds?: LoadResult[]) => {
    // Figures of the median round; failures of every round.
    const sum = (f: (x: LoadResult) => number) => (rounds ?? [mid]).reduce((n, x) => n + f(x), 0);
    const r: Measured = {
      ...mid,
      non2xx: sum((x) => x.non2xx),
      errors: sum((x) => x.errors),
      mismatches: sum((x) => x.mismatches),
      cycled: (rounds ?? [mid]).some((x) => x.cycled),
      ...(rounds && rounds.length > 1 ? { rounds } : {}),
    };
    loads[id] = r;
    const bad = r.non2xx + r.errors + r.mismatches;
    const other = Math.max(0, ...(rounds ?? [mid]).map((x) => x.otherCpu ?? 0));
    say(
      `  ${id}${rounds ? ` (median of ${rounds.map((x) => Math.round(x.rps)).join(", ")})` : ""}: ` +
        `${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, server ${Math.round(r.serverCpu ?? Number.NaN)}% CPU, others up to ${Math.round(other)}%` +
        (bad > 0 ? `, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.mismatches} bad bodies` : ""),
    );
    if (bad > 0)
      notes.push(
        `${id}: ${r.non2xx} non-2xx, ${r.errors} errors/timeouts, ${r.mismatches} 2xx bodies not a success.`,
      );
    if (r.cycled) notes.push(`${id}: more requests than distinct bodies; some were sent twice.`);
    if (other > NOISY_CPU) {
      notes.push(
        `${id}: other processes used up to ${Math.round(other)}% of a core meanwhile: its figures are skewed.`,
      );
    }
    return r;
  };
}

async function measureAll(tmp: string): Promise<Results> {
  const { duration, warmup, connections, alg } = SETTINGS;
  const loads: Record<string, Measured> = {};
  const notes: string[] = [];
  const base = { connections, duration, warmup };
  const record = recorder(loads, notes);

  // 1. The floor, unpinned (both cores), once, for reference. The pinned floor, on the
  // server's CPU, is measured in every round below, beside the loads it is compared with.
  const floorArgs = [alg, String(SETTINGS.floorSeconds)];
  say("floor: jose sign + verify pairs, unpinned …");
  const bothCores = PINNED ? await runJson<Floor>("bench/floor.ts", floorArgs) : undefined;

  // 2. The fixture: one Baton port (so one issuer for both policies), the outside issuer's
  // keys, the agents' secrets, the distinct subject tokens and the bodies that carry them.
  const { batonPort, issuer, idp, secrets, tokens, body10, policies10, a1 } =
    await tokenFixture(tmp);
  const body10k = await writeBodies(
    join(tmp, "baton-10k.txt"),
    tokens.map((t, i) => accessBody(t, (i * 7919) % 10_000)),
  );
  const bodyPeer = await writeBodies(
    join(tmp, "peer.txt"),
    tokens.map((t, i) => peerBody(t, i % 10)),
  );
  const repeatToken = await mintSubject(idp, { sub: "repeat@example.com", aud: issuer });

  const servers: Server[] = [];
  const started = async (server: Promise<Server>) => {
    const s = await server;
    servers.push(s);
    return s;
  };
  let memory: Results["memory"] | undefined;
  let pinnedFloor: Floor | undefined;
  const latency: LatencyRound[] = [];
  try {
    // 3. The HTTP ceiling: a reference only, no ratio carries a target. The server stays up,
    // idle, for the latency rows of every round (the noise floor they are compared with).
    say("http ceiling: node:http hello world …");
    const hello = await started(startHello(tmp));
    record(
      "http",
      await runLoad(fresh({ ...base, url: `${hello.url}/`, serverPid: hello.pid }), tmp),
    );

    // 4. Every server whose figures a target compares, started side by side and idle between
    // loads: the MCP echo tool on the same SDK stack, the peer (oidc-provider's token exchange
    // grant, same tokens, same algorithm), and Baton twice, with 10 APIs (on the issuer's port)
    // and with 10,000 (a second node under the same issuer, so the same subject tokens).
    say("starting the MCP echo server, the peer and two Batons (10 APIs, 10,000 APIs) …");
    const echo = await started(startEcho(tmp));
    const peerPort = await freePort();
    const resources: Record<string, string> = {};
    for (let i = 0; i < 10; i++) resources[apiResource(i)] = `api${i}.read`;
    const peer = await started(
      startPeer(tmp, {
        port: peerPort,
        issuer: `http://127.0.0.1:${peerPort}`,
        alg,
        subjectIssuer: { issuer: IDP_ISSUER, audience: issuer, jwk: idp.publicJwk },
        signingJwk: await privateJwk(alg, "peer-1"),
        clients: [{ id: "a1", secret: secrets.a1 }],
        resources,
      }),
    );
    const policies10k = join(tmp, "policies-10k");
    await writePolicy({ dir: policies10k, issuer, alg, idp, secrets, apiCount: 10_000 });
    const s = await started(
      startBaton({ name: "baton-10", port: batonPort, policies: policies10, tmp }),
    );
    const loadStart = Date.now();
    const baton10k = await started(
      startBaton({ name: "baton-10k", port: await freePort(), policies: policies10k, tmp, issuer }),
    );
    notes.push(
      `Baton with 10,000 APIs was ready ${((Date.now() - loadStart) / 1000).toFixed(1)} s after start.`,
    );
    // The 10-API policy again, with --audit-sync: a third node under the same issuer.
    const synced = await started(startSyncedBaton(tmp, policies10, issuer));

    // Before any load, one request of each kind, checked: a bench that measures 400s is worthless.
    const url = `${s.url}/token`;
    const urlK = `${baton10k.url}/token`;
    const peerUrl = `${peer.url}/token`;
    const apiK = 7919 % 10_000;
    const first = await exchange(url, "a1", secrets.a1, accessBody(tokens[0] as string, 0));
    checkAccessToken(first.access_token, { alg, aud: apiResource(0), chain: ["a1"] });
    const firstK = await exchange(urlK, "a1", secrets.a1, accessBody(tokens[1] as string, apiK));
    checkAccessToken(firstK.access_token, { alg, aud: apiResource(apiK), chain: ["a1"] });
    const urlSync = `${synced.url}/token`;
    const firstSync = await exchange(urlSync, "a1", secrets.a1, accessBody(tokens[0] as string, 0));
    checkAccessToken(firstSync.access_token, { alg, aud: apiResource(0), chain: ["a1"] });
    const firstPeer = await exchange(peerUrl, "a1", secrets.a1, peerBody(tokens[0] as string, 0));
    checkAccessToken(firstPeer.access_token, { alg, aud: apiResource(0), chain: ["a1"] });
    const repeated = accessBody(repeatToken, 1);
    const one = await exchange(url, "a1", secrets.a1, repeated);
    checkAccessToken(one.access_token, { alg, aud: apiResource(1), chain: ["a1"] });
    const echoUrl = `${echo.url}/mcp`;
    const echoSession = await openSession({ url: echoUrl });
    const echoed = await callTool(echoUrl, echoSession, "echo", { text: "hello" });
    notes.push(`MCP responses come back as ${echoed.contentType.split(";")[0]}.`);
    const requestToken = requestTokenSpec(await requestTokenSession(idp, issuer, s), s.pid);
    const latencyTargets = {
      token: requestOf(tokenSpec(url, a1, { bodiesFile: body10, offset: 0 }, s.pid)),
      mcp: requestOf(requestToken),
      hello: { url: `${hello.url}/`, serverPid: hello.pid },
    };

    // 5. The rounds: every compared figure once per round, in the same order, each round a
    // few seconds after the last. This VM's speed drifts by tens of percent from one minute to
    // the next; a ratio of two figures measured side by side in every round, then the median
    // round, survives that drift where figures measured minutes apart do not.
    const ids = [
      "peer",
      "tokenDistinct",
      "tokenDistinctSync",
      "tokenDistinct10k",
      "tokenRepeated",
      "mcpEcho",
      "mcpRequestToken",
    ] as const;
    const samples = Object.fromEntries(ids.map((id) => [id, [] as LoadResult[]])) as Record<
      (typeof ids)[number],
      LoadResult[]
    >;
    const floors: Floor[] = [];
    // Each distinct run starts where the last one stopped: no token is sent twice to a server.
    let offset = 2;
    let offsetK = 2;
    let offsetSync = 1;
    let offsetPeer = 1;
    for (let round = 0; round < SETTINGS.rounds; round++) {
      const warm = (spec: LoadSpec) => (round === 0 ? fresh(spec) : spec);
      say(
        `round ${round + 1} of ${SETTINGS.rounds}: floor, peer, /token ×4, MCP echo, MCP request_token, latency ×6`,
      );
      const floor = await runJson<Floor>("bench/floor.ts", floorArgs, { cpu: CPU.server });
      floors.push(floor);
      const p = await runLoad(
        warm(tokenSpec(peerUrl, a1, { bodiesFile: bodyPeer, offset: offsetPeer }, peer.pid)),
        tmp,
      );
      offsetPeer = p.nextOffset;
      samples.peer.push(p);
      const d = await runLoad(warm(tokenSpec(url, a1, { bodiesFile: body10, offset }, s.pid)), tmp);
      offset = d.nextOffset;
      samples.tokenDistinct.push(d);
      const y = await runLoad(
        warm(tokenSpec(urlSync, a1, { bodiesFile: body10, offset: offsetSync }, synced.pid)),
        tmp,
      );
      offsetSync = y.nextOffset;
      samples.tokenDistinctSync.push(y);
      const k = await runLoad(
        warm(tokenSpec(urlK, a1, { bodiesFile: body10k, offset: offsetK }, baton10k.pid)),
        tmp,
      );
      offsetK = k.nextOffset;
      samples.tokenDistinct10k.push(k);
      samples.tokenRepeated.push(await runLoad(tokenSpec(url, a1, { body: repeated }, s.pid), tmp));
      const echoBody = toolCallBody("echo", { text: "hello" });
      samples.mcpEcho.push(
        await runLoad(warm(mcpSpec(echoUrl, echoSession.headers, echoBody, echo.pid)), tmp),
      );
      // Its first round warms the SDK path as the echo's first round does (the /token rows
      // before it warmed Baton's core, not the MCP transport).
      samples.mcpRequestToken.push(await runLoad(warm(requestToken), tmp));
      // Last in the round: every path is warm, and the rate follows this round's distinct row.
      const l = await measureLatencyRound({
        tmp,
        settings: SETTINGS.latency,
        distinctRps: d.rps,
        pairMs: 1000 / floor.nodeSequential,
        targets: { ...latencyTargets, token: { ...latencyTargets.token, offset } },
        coldWarmup: 0,
      });
      offset = l.nextOffset;
      latency.push(l.round);
    }
    const mid = (f: (x: Floor) => number) => medianBy(floors, f);
    const f = mid((x) => x.concurrent);
    pinnedFloor = {
      ...f,
      sequential: mid((x) => x.sequential).sequential,
      nodeSequential: mid((x) => x.nodeSequential).nodeSequential,
    };
    notes.push(
      `floor (50 in flight, CPU ${CPU.server}) by round: ${floors.map((x) => Math.round(x.concurrent)).join(", ")}.`,
    );
    for (const [id, list] of Object.entries(samples)) {
      record(id, medianRps(list), list);
    }
    for (const other of [hello, echo, peer, baton10k, synced]) {
      servers.splice(servers.indexOf(other), 1);
      await other.stop();
    }

    // 6. Depth 5: a1 → a2 → a3 → a4 → a5 by delegation tokens, then a5 asks for an API token.
    let subject = repeatToken;
    let subjectType: string = TOKEN_TYPE.accessToken;
    for (let k = 0; k < 4; k++) {
      const from = AGENTS[k] as (typeof AGENTS)[number];
      const to = AGENTS[k + 1] as string;
      const d: TokenResponse = await exchange(
        url,
        from,
        secrets[from],
        delegationBody(subject, subjectType, to, 1),
      );
      subject = d.access_token;
      subjectType = TOKEN_TYPE.jwt;
    }
    const deep = accessBody(subject, 1, TOKEN_TYPE.jwt);
    const d5 = await exchange(url, "a5", secrets.a5, deep);
    checkAccessToken(d5.access_token, {
      alg,
      aud: apiResource(1),
      chain: ["a5", "a4", "a3", "a2", "a1"],
    });
    const a5 = { "content-type": FORM, authorization: basicAuth("a5", secrets.a5) };
    record("tokenDepth5", await runLoad(tokenSpec(url, a5, { body: deep }, s.pid), tmp));

    // Memory: RSS after a settle, 100,000 distinct exchanges, RSS after a settle.
    say(`memory: ${SETTINGS.memoryExchanges.toLocaleString("en-US")} exchanges …`);
    const before = await settledRss(s);
    const load = await runLoad(
      {
        ...tokenSpec(url, a1, { bodiesFile: body10, offset }, s.pid),
        warmup: 0,
        amount: SETTINGS.memoryExchanges,
      },
      tmp,
    );
    record("memory", load);
    const after = await settledRss(s);
    memory = {
      exchanges: SETTINGS.memoryExchanges,
      rssBeforeMiB: before,
      rssAfterMiB: after,
      growthMiB: after - before,
      load,
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }

  if (!memory || !pinnedFloor) throw new Error("the memory scenario did not run");
  return {
    floor: { pinned: pinnedFloor, ...(bothCores ? { bothCores } : {}) },
    loads,
    memory,
    latency,
    notes,
  };
}

/**
 * What every selection loads: one Baton port (so one issuer for every Baton), the outside
 * issuer's keys, the agents' secrets, the distinct subject tokens, their `/token` bodies for
 * 10 APIs, the 10-API policy and a1's headers.
 */
async function tokenFixture(tmp: string) {
  const { alg } = SETTINGS;
  const batonPort = await freePort();
  const issuer = `http://127.0.0.1:${batonPort}`;
  const idp = await makeIdp(alg);
  const secrets = makeSecrets();
  say(`minting ${SETTINGS.tokens.toLocaleString("en-US")} distinct subject tokens …`);
  const tokens = await mintMany(idp, issuer, SETTINGS.tokens);
  const body10 = await writeBodies(
    join(tmp, "baton-10.txt"),
    tokens.map((t, i) => accessBody(t, i % 10)),
  );
  const policies10 = join(tmp, "policies-10");
  await writePolicy({ dir: policies10, issuer, alg, idp, secrets, apiCount: 10 });
  const a1 = { "content-type": FORM, authorization: basicAuth("a1", secrets.a1) };
  return { batonPort, issuer, idp, secrets, tokens, body10, policies10, a1 };
}

/** MCP on Baton: one session of a1 for one user, and one request_token in it, checked. */
async function requestTokenSession(
  idp: Idp,
  issuer: string,
  baton: Server,
): Promise<{ url: string; session: McpSession; body: string }> {
  const { alg } = SETTINGS;
  const bearer = await mintSubject(idp, {
    sub: "mcp-user@example.com",
    aud: `${issuer}/mcp`,
    azp: "a1",
  });
  const url = `${baton.url}/mcp`;
  const session = await openSession({ url, headers: { authorization: `Bearer ${bearer}` } });
  const args = { api: "api1", scopes: ["api1.read"] };
  const called = await callTool(url, session, "request_token", args);
  if (typeof called.structuredContent.access_token !== "string") {
    throw new Error(`request_token: no access_token in ${JSON.stringify(called)}`);
  }
  checkAccessToken(called.structuredContent.access_token, {
    alg,
    aud: apiResource(1),
    chain: ["a1"],
  });
  return { url, session, body: toolCallBody("request_token", args) };
}

/** The MCP request_token load in that session: a success carries an access token. */
function requestTokenSpec(
  rt: { url: string; session: McpSession; body: string },
  serverPid: number,
): LoadSpec {
  return { ...mcpSpec(rt.url, rt.session.headers, rt.body, serverPid), expect: '"access_token"' };
}

/** A `/token` load: form bodies, client_secret_basic, success = an access_token. */
function tokenSpec(
  url: string,
  headers: Record<string, string>,
  body: { body: string } | { bodiesFile: string; offset: number },
  serverPid: number,
): LoadSpec {
  return {
    url,
    method: "POST",
    headers,
    ...body,
    connections: SETTINGS.connections,
    duration: SETTINGS.duration,
    warmup: SETTINGS.warmup,
    expect: '"access_token"',
    serverPid,
  };
}

/** A `tools/call` load in one session: a fresh JSON-RPC id per request. */
function mcpSpec(
  url: string,
  headers: Record<string, string>,
  body: string,
  serverPid: number,
): LoadSpec {
  return {
    url,
    method: "POST",
    headers,
    body,
    idReplacement: true,
    connections: SETTINGS.connections,
    duration: SETTINGS.duration,
    warmup: SETTINGS.warmup,
    expect: '"result"',
    reject: '"isError":true',
    serverPid,
  };
}

/** The run with the median req/s (its latencies come with it). */
const medianRps = (list: readonly LoadResult[]): LoadResult => medianBy(list, (x) => x.rps);

/** The request part of a load (what the latency loader sends), without autocannon's settings. */
function requestOf(spec: LoadSpec): RequestSpec {
  const { connections: _c, duration: _d, amount: _a, warmup: _w, ...request } = spec;
  return request;
}

/** The first load on a freshly started server warms it up for longer. */
const fresh = (spec: LoadSpec): LoadSpec => ({
  ...spec,
  warmup: spec.warmup + SETTINGS.serverWarmup,
});

/** Two full GCs in the server (SIGUSR2, see servers/baton.ts), then its RSS in MiB. */
async function settledRss(s: Server): Promise<number> {
  for (let i = 0; i < 2; i++) {
    process.kill(s.pid, "SIGUSR2");
    await sleep(1000);
  }
  return rssMiB(s.pid);
}

function tableRows(r: Results): Row[] {
  const L = r.loads;
  const get = (id: string): Measured => {
    const v = L[id];
    if (!v) throw new Error(`no result for ${id}`);
    return v;
  };
  const row = (id: string, scenario: string, checks: Check[] = []): Row =>
    scenarioRow(get(id), id, scenario, checks);
  const floor = r.floor.pinned;
  const distinct = get("tokenDistinct").rps;
  const bound = mcpBound(L);
  const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
  const where = PINNED ? ` (CPU ${CPU.server})` : "";
  const rows: Row[] = [
    {
      id: "floorSequential",
      scenario: `floor: jose ${floor.alg} sign+verify, 1 at a time${where}`,
      rps: floor.sequential,
      checks: [],
    },
    {
      id: "floorConcurrent",
      scenario: `floor: jose ${floor.alg} sign+verify, 50 in flight${where}`,
      rps: floor.concurrent,
      checks: [
        { label: "/ 1 at a time", measured: ratio(floor.concurrent, floor.sequential), unit: "x" },
      ],
    },
    {
      id: "floorNode",
      scenario: `floor: node:crypto ${floor.alg} sign+verify (Baton's)${where}`,
      rps: floor.nodeSequential,
      checks: [
        {
          label: "/ jose, 50 in flight",
          measured: ratio(floor.nodeSequential, floor.concurrent),
          unit: "x",
        },
      ],
    },
  ];
  if (r.floor.bothCores) {
    rows.push({
      id: "floorBothCores",
      scenario: "floor: same, 50 in flight, unpinned (both cores)",
      rps: r.floor.bothCores.concurrent,
      checks: [],
    });
  }
  rows.push(
    row("http", "http ceiling: node:http hello world"),
    row("peer", "peer: oidc-provider RFC 8693 grant, distinct"),
    row("tokenDistinct", "baton /token, distinct subjects (10 APIs)", [
      {
        label: "/ floor, 50 in flight",
        measured: ratio(distinct, floor.concurrent),
        unit: "x",
        op: ">=",
        limit: 0.6,
      },
      { label: "/ node:crypto floor", measured: ratio(distinct, floor.nodeSequential), unit: "x" },
      {
        label: "/ peer",
        measured: ratio(distinct, get("peer").rps),
        unit: "x",
        op: ">=",
        limit: 2,
      },
      { label: "/ http ceiling", measured: ratio(distinct, get("http").rps), unit: "x" },
    ]),
    auditSyncRow(get),
    row("tokenRepeated", "baton /token, one subject repeated (depth 1)", [
      {
        label: "/ distinct",
        measured: ratio(get("tokenRepeated").rps, distinct),
        unit: "x",
        op: ">=",
        limit: 1.5,
      },
    ]),
    row("tokenDepth5", "baton /token, depth 5 chain (repeated)", [
      {
        label: "/ depth 1 (repeated)",
        measured: ratio(get("tokenDepth5").rps, get("tokenRepeated").rps),
        unit: "x",
      },
    ]),
    row("tokenDistinct10k", "baton /token, distinct subjects (10,000 APIs)", [
      {
        label: "/ 10 APIs",
        measured: ratio(get("tokenDistinct10k").rps, distinct),
        unit: "x",
        op: ">=",
        limit: 0.9,
      },
    ]),
    row("mcpEcho", "mcp: echo tool, same SDK stack (ceiling)"),
    {
      id: "mcpBound",
      scenario: `mcp bound: 1 / (1/echo + 1/(/token repeated))${bound.length > 1 ? " *" : ""}`,
      rps: median(bound.map((b) => b.bound)),
      checks: [],
    },
    row("mcpRequestToken", "mcp: baton request_token, one session", [
      {
        label: "/ MCP bound",
        measured: median(bound.map((b) => b.share)),
        unit: "x",
        op: ">=",
        limit: 0.9,
      },
      {
        label: "/ echo",
        measured: ratio(get("mcpRequestToken").rps, get("mcpEcho").rps),
        unit: "x",
      },
      {
        label: "/ /token repeated",
        measured: ratio(get("mcpRequestToken").rps, get("tokenRepeated").rps),
        unit: "x",
      },
    ]),
    row(
      "memory",
      `memory: ${r.memory.exchanges.toLocaleString("en-US")} exchanges, RSS ${Math.round(r.memory.rssBeforeMiB)} → ${Math.round(r.memory.rssAfterMiB)} MB`,
      [{ label: "RSS growth", measured: r.memory.growthMiB, unit: "MB", op: "<", limit: 30 }],
    ),
    ...latencyRows(r.latency, SETTINGS.latency.load),
  );
  return rows;
}

/**
 * What MCP request_token could reach, round by round: the SDK stack's cost per call (the echo)
 * plus the exchange's (`/token` repeated: the bearer is one token, its check cached), in series
 * on one CPU; and request_token's share of it.
 */
function mcpBound(loads: Record<string, Measured>) {
  const runs = (id: string): readonly LoadResult[] => {
    const m = loads[id];
    if (!m) throw new Error(`no result for ${id}`);
    return m.rounds ?? [m];
  };
  const repeated = runs("tokenRepeated");
  const requestToken = runs("mcpRequestToken");
  return runs("mcpEcho").map((echo, i) => {
    const bound = 1 / (1 / echo.rps + 1 / (repeated[i]?.rps ?? Number.NaN));
    const rps = requestToken[i]?.rps ?? Number.NaN;
    return {
      echo: echo.rps,
      repeated: repeated[i]?.rps,
      bound,
      requestToken: rps,
      share: rps / bound,
    };
  });
}

/** A Baton with --audit-sync, its own store and audit file, under `issuer`. */
async function startSyncedBaton(tmp: string, policies: string, issuer: string): Promise<Server> {
  const port = await freePort();
  return startBaton({ name: "baton-sync", port, policies, tmp, issuer, auditSync: true });
}

/** The table row of one scenario (`*` when it is the median of rounds). */
function scenarioRow(v: Measured, id: string, scenario: string, checks: Check[] = []): Row {
  return {
    id,
    scenario: v.rounds ? `${scenario} *` : scenario,
    rps: v.rps,
    p50: v.p50,
    p99: v.p99,
    non2xx: v.non2xx,
    failed: v.errors + v.mismatches,
    ...(v.serverCpu === undefined ? {} : { cpu: v.serverCpu }),
    checks,
  };
}

/** `/token` distinct with --audit-sync, beside the same load without it: what the fsync costs. */
function auditSyncRow(get: (id: string) => Measured): Row {
  const plain = get("tokenDistinct");
  const synced = get("tokenDistinctSync");
  return scenarioRow(
    synced,
    "tokenDistinctSync",
    "baton /token, distinct (10 APIs), --audit-sync",
    [
      { label: "/ without --audit-sync", measured: synced.rps / plain.rps, unit: "x" },
      { label: "p99 / without", measured: synced.p99 / plain.p99, unit: "x" },
    ],
  );
}

/**
 * BENCH_ONLY=audit-sync: the /token distinct load (10 APIs) on two Batons side by side, one
 * without --audit-sync and one with it, in rounds that alternate which goes first.
 */
async function auditSyncOnly(tmp: string): Promise<Selection> {
  const { alg } = SETTINGS;
  const loads: Record<string, Measured> = {};
  const notes: string[] = [];
  const record = recorder(loads, notes);
  const { batonPort, issuer, secrets, tokens, body10, policies10, a1 } = await tokenFixture(tmp);

  say("starting two Batons (10 APIs), without and with --audit-sync …");
  const servers: Server[] = [];
  try {
    const plain = await startBaton({
      name: "baton-10",
      port: batonPort,
      policies: policies10,
      tmp,
    });
    servers.push(plain);
    const synced = await startSyncedBaton(tmp, policies10, issuer);
    servers.push(synced);
    const runs = [
      { id: "tokenDistinct", server: plain, offset: 1, samples: [] as LoadResult[] },
      { id: "tokenDistinctSync", server: synced, offset: 1, samples: [] as LoadResult[] },
    ];
    for (const run of runs) {
      const url = `${run.server.url}/token`;
      const first = await exchange(url, "a1", secrets.a1, accessBody(tokens[0] as string, 0));
      checkAccessToken(first.access_token, { alg, aud: apiResource(0), chain: ["a1"] });
    }
    for (let round = 0; round < SETTINGS.rounds; round++) {
      // This VM drifts from minute to minute: alternate which of the two goes first.
      const order = round % 2 === 0 ? runs : [...runs].reverse();
      say(`round ${round + 1} of ${SETTINGS.rounds}: ${order.map((r) => r.id).join(", ")}`);
      for (const run of order) {
        const body = { bodiesFile: body10, offset: run.offset };
        const spec = tokenSpec(`${run.server.url}/token`, a1, body, run.server.pid);
        const result = await runLoad(round === 0 ? fresh(spec) : spec, tmp);
        run.offset = result.nextOffset;
        run.samples.push(result);
      }
    }
    for (const run of runs) record(run.id, medianRps(run.samples), run.samples);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  const get = (id: string): Measured => {
    const v = loads[id];
    if (!v) throw new Error(`no result for ${id}`);
    return v;
  };
  return {
    rows: [
      scenarioRow(
        get("tokenDistinct"),
        "tokenDistinct",
        "baton /token, distinct subjects (10 APIs)",
      ),
      auditSyncRow(get),
    ],
    notes,
    eachRound:
      "each round runs /token distinct on a Baton without --audit-sync and on one with it, alternating which goes first.",
    data: { scenarios: loads },
  };
}

/**
 * BENCH_ONLY=latency: what the latency rows need and nothing else, in rounds: the node:crypto
 * floor (one sign+verify pair), /token distinct (10 APIs, for the open loop's rate), then the
 * open loop and one request at a time for /token distinct, MCP request_token and hello world.
 */
async function latencyOnly(tmp: string): Promise<Selection> {
  const { alg } = SETTINGS;
  const loads: Record<string, Measured> = {};
  const notes: string[] = [];
  const record = recorder(loads, notes);
  const { batonPort, issuer, idp, secrets, tokens, body10, policies10, a1 } =
    await tokenFixture(tmp);
  say("starting hello world and one Baton (10 APIs) …");
  const servers: Server[] = [];
  const latency: LatencyRound[] = [];
  const floors: number[] = [];
  try {
    const hello = await startHello(tmp);
    servers.push(hello);
    const s = await startBaton({ name: "baton-10", port: batonPort, policies: policies10, tmp });
    servers.push(s);
    const url = `${s.url}/token`;
    const first = await exchange(url, "a1", secrets.a1, accessBody(tokens[0] as string, 0));
    checkAccessToken(first.access_token, { alg, aud: apiResource(0), chain: ["a1"] });
    const requestToken = requestTokenSpec(await requestTokenSession(idp, issuer, s), s.pid);
    const distinct: LoadResult[] = [];
    let offset = 1;
    for (let round = 0; round < SETTINGS.rounds; round++) {
      say(
        `round ${round + 1} of ${SETTINGS.rounds}: node:crypto floor, /token distinct, latency ×6`,
      );
      const floor = await runJson<Pick<Floor, "nodeSequential">>(
        "bench/floor.ts",
        [alg, String(SETTINGS.floorSeconds), "node"],
        { cpu: CPU.server },
      );
      floors.push(floor.nodeSequential);
      const spec = tokenSpec(url, a1, { bodiesFile: body10, offset }, s.pid);
      const d = await runLoad(round === 0 ? fresh(spec) : spec, tmp);
      offset = d.nextOffset;
      distinct.push(d);
      const l = await measureLatencyRound({
        tmp,
        settings: SETTINGS.latency,
        distinctRps: d.rps,
        pairMs: 1000 / floor.nodeSequential,
        targets: {
          token: requestOf({ ...spec, offset }),
          mcp: requestOf(requestToken),
          hello: { url: `${hello.url}/`, serverPid: hello.pid },
        },
        // No load before has warmed the MCP path or hello world: as a fresh server's first load.
        coldWarmup: round === 0 ? SETTINGS.serverWarmup : 0,
      });
      offset = l.nextOffset;
      latency.push(l.round);
    }
    record("tokenDistinct", medianRps(distinct), distinct);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  const star = SETTINGS.rounds > 1 ? " *" : "";
  const distinct = loads.tokenDistinct as Measured;
  return {
    rows: [
      {
        id: "floorNode",
        scenario: `floor: node:crypto ${alg} sign+verify (Baton's)${PINNED ? ` (CPU ${CPU.server})` : ""}${star}`,
        rps: median(floors),
        checks: [],
      },
      scenarioRow(distinct, "tokenDistinct", "baton /token, distinct subjects (10 APIs)"),
      ...latencyRows(latency, SETTINGS.latency.load),
    ],
    notes: [...notes, ...latencyNotes(latency, NOISY_CPU), ROUND_RATIOS],
    eachRound: `each round runs the node:crypto floor (CPU ${CPU.server}), /token distinct, then ${LATENCY_ROUND}.`,
    data: {
      floor: { nodeSequential: floors },
      scenarios: loads,
      latency: { settings: SETTINGS.latency, rounds: latency },
    },
  };
}

await main();
