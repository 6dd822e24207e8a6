/**
 * A CPU profile of Baton under the `/token` distinct-subjects load of `npm run bench`: the
 * same server (pinned to CPU 0), policy (10 APIs), tokens and autocannon settings, with
 * `node --cpu-prof`. Prints where the JS thread spends its time (self time by function, by
 * package or Baton folder, and inclusive time of Baton's own functions) and how CPU splits
 * between threads (the JS thread, the libuv pool where WebCrypto and SQLite work, V8's
 * helpers). Writes bench/results/baton.cpuprofile (open it in Chrome DevTools) and
 * bench/results/profile.json.
 *
 * Usage: npx tsx bench/profile.ts   (BENCH_PROFILE_SECONDS, default 10; BENCH_ALG;
 * BENCH_STORE=memory to see what the SQLite store costs: `--store memory:// --dev`;
 * BENCH_PROFILE_INTERVAL_US, the sampling interval, default 1000; BENCH_PROFILE_SCENARIO=mcp
 * profiles MCP `request_token` in one session instead, as `npm run bench` loads it)
 */

import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { threadDelta, threadSeconds } from "./lib/cpu.js";
import { checkAccessToken, exchange, FORM } from "./lib/exchange.js";
import {
  accessBody,
  apiResource,
  basicAuth,
  makeIdp,
  makeSecrets,
  mintMany,
  mintSubject,
  writeBodies,
  writePolicy,
} from "./lib/fixture.js";
import { runLoad } from "./lib/load.js";
import { callTool, openSession, toolCallBody } from "./lib/mcp.js";
import { freePort, killAll, ROOT, sourceState } from "./lib/proc.js";
import { startBaton } from "./lib/servers.js";

const seconds = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const alg = process.env.BENCH_ALG ?? "EdDSA";
const store = process.env.BENCH_STORE === "memory" ? "memory" : "sqlite";
const scenario = process.env.BENCH_PROFILE_SCENARIO === "mcp" ? "mcp" : "token";
/** Sampling interval (µs): V8's default of 1000 costs this one-CPU server a lot of throughput. */
const interval = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 1000);
const say = (line: string) => process.stderr.write(`${line}\n`);

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const tmp = await mkdtemp(join(tmpdir(), "baton-profile-"));
try {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const idp = await makeIdp(alg);
  const secrets = makeSecrets();
  const count = Math.max(20_000, Math.ceil((seconds + 4) * 6_000));
  say(`minting ${count.toLocaleString("en-US")} distinct subject tokens …`);
  const tokens = await mintMany(idp, issuer, count);
  const bodies = await writeBodies(
    join(tmp, "baton-10.txt"),
    tokens.map((t, i) => accessBody(t, i % 10)),
  );
  const policies = join(tmp, "policies-10");
  await writePolicy({ dir: policies, issuer, alg, idp, secrets, apiCount: 10 });
  const profDir = join(tmp, "prof");
  const spawned = Date.now();
  const baton = await startBaton({
    name: "baton-10",
    port,
    policies,
    tmp,
    cpuProfDir: profDir,
    cpuProfInterval: interval,
    store,
  });
  const url = `${baton.url}/token`;
  const first = await exchange(url, "a1", secrets.a1, accessBody(tokens[0] as string, 0));
  checkAccessToken(first.access_token, { alg, aud: apiResource(0), chain: ["a1"] });

  const spec =
    scenario === "mcp"
      ? await mcpLoad(baton.url, issuer, idp)
      : {
          url,
          method: "POST" as const,
          headers: { "content-type": FORM, authorization: basicAuth("a1", secrets.a1) },
          bodiesFile: bodies,
          connections: 50,
          expect: '"access_token"',
          serverPid: baton.pid,
        };
  /** MCP `request_token` in one session of a1 for one user, as `npm run bench` loads it. */
  async function mcpLoad(base: string, iss: string, provider: typeof idp) {
    const bearer = await mintSubject(provider, {
      sub: "mcp-user@example.com",
      aud: `${iss}/mcp`,
      azp: "a1",
    });
    const mcpUrl = `${base}/mcp`;
    const session = await openSession({
      url: mcpUrl,
      headers: { authorization: `Bearer ${bearer}` },
    });
    const args = { api: "api1", scopes: ["api1.read"] };
    await callTool(mcpUrl, session, "request_token", args);
    return {
      url: mcpUrl,
      method: "POST" as const,
      headers: session.headers,
      body: toolCallBody("request_token", args),
      idReplacement: true,
      connections: 50,
      expect: '"result"',
      reject: '"isError":true',
      serverPid: baton.pid,
    };
  }
  // Warm up as `npm run bench` does a fresh server (JIT, store), outside the profiled window.
  say("warming up for 4 s …");
  const warm = await runLoad({ ...spec, offset: 1, duration: 4, warmup: 0 }, tmp);
  say(`profiling baton under /token distinct load for ${seconds} s …`);
  const threads0 = threadSeconds(baton.pid);
  const loadFrom = Date.now();
  const load = await runLoad(
    { ...spec, offset: warm.nextOffset, duration: seconds, warmup: 0 },
    tmp,
  );
  const loadTo = Date.now();
  const threads = threadDelta(threads0, threadSeconds(baton.pid));
  await baton.stop();

  const file = (await readdir(profDir)).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error("no .cpuprofile was written");
  const profile = JSON.parse(await readFile(join(profDir, file), "utf8")) as CpuProfile;
  const summary = summarise(profile, {
    // The profile clock starts with the process: keep the samples taken during the load.
    fromUs: (loadFrom - spawned) * 1000,
    toUs: (loadTo - spawned) * 1000,
  });

  const wall = (loadTo - loadFrom) / 1000;
  const out: string[] = [];
  out.push(
    `Baton ${scenario === "mcp" ? "MCP request_token, one session" : "/token distinct subjects"}, 50 connections, ${store} store: ${Math.round(load.rps)} req/s, p50 ${load.p50} ms, p99 ${load.p99} ms, ${load.non2xx} non-2xx, server CPU ${Math.round(load.serverCpu ?? Number.NaN)}% of one core`,
    "",
    `CPU by thread during the load (% of one core over ${wall.toFixed(1)} s, the load generator's start-up included):`,
  );
  let all = 0;
  for (const [name, s] of [...threads].sort((a, b) => b[1] - a[1])) {
    all += s;
    if (s >= 0.01) out.push(`  ${name.padEnd(20)} ${((s / wall) * 100).toFixed(1).padStart(5)}%`);
  }
  out.push(`  ${"all threads".padEnd(20)} ${((all / wall) * 100).toFixed(1).padStart(5)}%`);
  const pct = (n: number) => `${((n / summary.busy) * 100).toFixed(1).padStart(5)}%`;
  out.push(
    "",
    `JS thread: ${summary.total} samples in the load window; idle ${((summary.idle / summary.total) * 100).toFixed(1)}%. Shares below are of the ${summary.busy} busy samples.`,
    "",
    "Self time by area:",
  );
  for (const [area, n] of summary.byArea.slice(0, 25)) out.push(`  ${pct(n)}  ${area}`);
  out.push("", "Top self time by function:");
  summary.byFunction.slice(0, 30).forEach(([fn, n, from], i) => {
    out.push(`  ${pct(n)}  ${fn}`);
    // The callers of the ten hottest: where in Baton (or a package) the time comes from.
    if (i < 10) for (const [c, k] of from) out.push(`           ${pct(k)}  ← ${c}`);
  });
  out.push("", "Baton functions, inclusive (synchronous stacks only; awaits cut them):");
  for (const [fn, n] of summary.batonInclusive.slice(0, 25)) out.push(`  ${pct(n)}  ${fn}`);
  process.stdout.write(`${out.join("\n")}\n`);

  const results = join(ROOT, "bench/results");
  await mkdir(results, { recursive: true });
  await copyFile(join(profDir, file), join(results, "baton.cpuprofile"));
  await writeFile(
    join(results, "profile.json"),
    `${JSON.stringify({ date: new Date().toISOString(), source: sourceState(), alg, store, seconds, load, threads: Object.fromEntries(threads), ...summary }, null, 2)}\n`,
  );
  process.stdout.write(`\nWrote bench/results/baton.cpuprofile and bench/results/profile.json\n`);
} finally {
  killAll();
  await rm(tmp, { recursive: true, force: true });
}

/** Where a frame's code lives: a Baton folder, a package, node's internals, or V8. */
function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName.startsWith("(")) return functionName;
    return "V8/native (no script)";
  }
  const src = url.indexOf("/src/");
  if (url.startsWith(`file://${ROOT}src/`) && src >= 0) {
    const path = url.slice(src + 1);
    const dir = path.split("/").slice(0, 2).join("/");
    return `baton ${dir}`;
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return `node ${url.split("/").slice(0, 2).join("/")}`;
  return url;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (frame.url === "") return name;
  const nm = frame.url.lastIndexOf("/node_modules/");
  if (nm >= 0) return `${name}  ${frame.url.slice(nm + 14)}:${frame.lineNumber + 1}`;
  // tsx compiles Baton's files on load: their line numbers are not the source's; name the file.
  if (frame.url.startsWith(`file://${ROOT}`)) return `${name}  ${frame.url.slice(7 + ROOT.length)}`;
  return `${name}  ${frame.url}:${frame.lineNumber + 1}`;
}

function summarise(profile: CpuProfile, window: { fromUs: number; toUs: number }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < window.fromUs || t > window.toUs) continue;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + 1);
    total++;
  }
  const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const callers = new Map<string, Map<string, number>>();
  let idle = 0;
  for (const [id, n] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === "(idle)") {
      idle += n;
      continue;
    }
    add(areas, areaOf(frame), n);
    add(functions, label(frame), n);
    // Who called it: the nearest frame with a name, for the hot functions' listing.
    let up = parent.get(id);
    while (up !== undefined && (byId.get(up) as ProfileNode).callFrame.functionName === "") {
      up = parent.get(up);
    }
    const caller = up === undefined ? "(root)" : label((byId.get(up) as ProfileNode).callFrame);
    const byCaller = callers.get(label(frame)) ?? new Map<string, number>();
    add(byCaller, caller, n);
    callers.set(label(frame), byCaller);
    // Inclusive: every distinct Baton frame on this sample's (synchronous) stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = (byId.get(cur) as ProfileNode).callFrame;
      if (f.url.startsWith(`file://${ROOT}src/`)) seen.add(label(f));
    }
    for (const k of seen) add(inclusive, k, n);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    total,
    idle,
    busy: total - idle,
    byArea: sorted(areas),
    byFunction: sorted(functions).map(([fn, n]) => [
      fn,
      n,
      sorted(callers.get(fn) ?? new Map()).slice(0, 3),
    ]) as [string, number, [string, number][]][],
    batonInclusive: sorted(inclusive),
  };
}
