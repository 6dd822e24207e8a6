/**
 * Issue 17 item 4, "Installable package": `npm pack` makes a tarball that installs into an
 * empty project with `npm install ./baton-*.tgz`; there `npx baton --version`, `baton policy
 * init` and `baton serve` run, and `import … from "baton/verify"` works in plain Node and in
 * TypeScript, with its types. No mocks: the tarball, npm, the installed bin and a real broker.
 *
 * The SQLite addon. `baton serve` runs on its default store, `sqlite://data/baton.db`, so the
 * addon must load in the installed project. npm would compile it from source there (sqlite3
 * has no prebuilt binary reachable here): 2-3 minutes on 2 cores, for a file this repository's
 * `npm ci` compiled already. So the install runs with `--ignore-scripts` (which also keeps it
 * from reaching for the network beyond the registry) and, when the project resolved the same
 * sqlite3 version as this repository, the compiled `node_sqlite3.node` is copied in; when
 * not, `npm rebuild sqlite3` compiles it, slow but still real (test/package/install.ts).
 * Serving on `memory://` instead would not need the addon only if nothing imported sqlite3 on
 * the way, and would not show that the default a user gets works. Measured on 2 busy cores:
 * pack 2 s, install 15-25 s from the npm cache, the whole file about a minute.
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../helpers/broker.js";
import {
  Children,
  collect,
  ROOT,
  SERVING,
  stderrOf,
  waitForOutput,
} from "../helpers/cli-process.js";
import { installInto, pack, run, start, type Tarball } from "./install.js";

const children = new Children();
afterAll(() => children.cleanup());

let tarball: Tarball;
/** The empty project the tarball is installed into. */
let project: string;
/** The client secrets `baton policy init` printed. */
let secrets: Record<string, string>;

const npx = (args: readonly string[]) => run(children, "npx", ["baton", ...args], { cwd: project });

beforeAll(async () => {
  const dir = await children.tempDir("baton-package-");
  tarball = await pack(children, dir);
  project = join(dir, "project");
  await mkdir(project);
  await installInto(children, project, tarball.path);
}, 600_000);

describe("npm pack", () => {
  it("holds the build, the bin, the types and the policy schema; no tests, data or build state", async () => {
    for (const path of [
      "package.json",
      "bin/baton.js",
      "dist/main/index.js",
      "dist/verify/index.js",
      "dist/verify/index.d.ts",
      "policies/policy.schema.json",
      "README.md",
    ]) {
      expect(tarball.files, path).toContain(path);
    }
    const unwanted = tarball.files.filter((path) =>
      /^(test|data|bench|scripts|examples|docs|node_modules)\/|\.tsbuildinfo$|\.(pem|key|env|db|log)$|^policies\/.*\.ya?ml$/.test(
        path,
      ),
    );
    expect(unwanted).toEqual([]);
    // The source maps of dist/ point into src/: shipped, so stack traces can name real lines.
    expect(tarball.files).toContain("src/verify/index.ts");
    const manifest = JSON.parse(
      await readFile(join(project, "node_modules/baton/package.json"), "utf8"),
    );
    expect(manifest.private).toBeUndefined();
  });
});

describe("the installed package", () => {
  it("npx baton --version prints the version of package.json", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    expect((await npx(["--version"])).stdout.trim()).toBe(version);
  });

  it("npx baton policy init writes a starter that npx baton policy check accepts, warning-free", async () => {
    const init = await npx(["policy", "init"]);
    secrets = Object.fromEntries(
      [...init.stdout.matchAll(/^ {2}(assistant|notes-api) {2}(\S+)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(secrets).sort()).toEqual(["assistant", "notes-api"]);
    const check = await npx(["policy", "check"]);
    expect(check.stdout.trim()).toMatch(/^policies\/: OK \(1 file, 1 API, 2 scopes, 2 agents/);
    expect(check.stderr).toBe("");
  });

  it("npx baton serve answers on its default SQLite store; the README's snippet accepts its token and refuses others", async () => {
    const port = await freePort();
    const broker = `http://127.0.0.1:${port}`;
    const serve = start(children, "npx", ["baton", "serve", "--port", String(port)], {
      cwd: project,
    });
    const banner = await waitForOutput(serve, SERVING, stderrOf(serve));
    expect(banner).toContain("sqlite://data/baton.db");
    const metadata = await fetch(`${broker}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ issuer: broker });

    const notes = await startNotesApi(broker);
    const subject = await npx([
      ...["dev-token", "--user", "alice@example.com", "--agent", "assistant"],
      ...["--issuer", broker],
    ]);
    const token = await exchange(broker, subject.stdout.trim());

    const ok = await fetch(notes, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("alice@example.com's notes, read by assistant\n");
    // Not a signature Baton made: refused, with the RFC 6750 challenge.
    const forged = await fetch(notes, { headers: { authorization: `Bearer ${tamper(token)}` } });
    expect(forged.status).toBe(401);
    expect(forged.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await fetch(notes)).status).toBe(401);
    // Revoked: the signature still verifies, introspection as notes-api says it is not active.
    expect((await post(broker, "/revoke", { token })).status).toBe(200);
    const revoked = await fetch(notes, { headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBe(401);
  }, 120_000);

  it('import from "baton/verify" type-checks in TypeScript, and a misuse does not', async () => {
    await writeFile(join(project, "use.ts"), USE_TS);
    await writeFile(join(project, "misuse.ts"), MISUSE_TS);
    // One compiler run for both files (a few seconds each): every error must be misuse.ts's.
    const tsc = start(
      children,
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        ...["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext"],
        ...["--target", "es2022", "use.ts", "misuse.ts"],
      ],
      { cwd: project },
    );
    const { code, stdout } = await collect(tsc);
    expect(code).toBe(2);
    const errors = stdout.split("\n").filter((line) => /^\S+\(\d+,\d+\): error/.test(line));
    expect(errors).toEqual([expect.stringMatching(/^misuse\.ts\(4,16\): error TS2345:/)]);
    expect(stdout).toContain("Property 'audience' is missing");
  }, 60_000);

  it('import from "baton/verify" works in plain Node', async () => {
    const { stdout } = await run(
      children,
      process.execPath,
      ["--input-type=module", "-e", PLAIN_NODE],
      { cwd: project },
    );
    expect(JSON.parse(stdout)).toEqual({ bearerError: true, status: 401, code: "invalid_token" });
  });
});

/** examples/protect-your-api.mjs, served on a free port, verifying for the broker at `issuer`. */
async function startNotesApi(issuer: string): Promise<string> {
  const snippet = await readFile(join(ROOT, "examples/protect-your-api.mjs"), "utf8");
  // The snippet names the broker's default issuer; this broker is on a free port.
  expect(snippet).toContain('issuer: "http://127.0.0.1:8787"');
  await writeFile(join(project, "notes-api.mjs"), snippet.replace("http://127.0.0.1:8787", issuer));
  const server = start(
    children,
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { createServer } from "node:http";
       import { getNotes } from "./notes-api.mjs";
       const server = createServer(getNotes).listen(0, "127.0.0.1", () =>
         console.log("listening on", server.address().port));`,
    ],
    { cwd: project, env: { NOTES_API_SECRET: secrets["notes-api"] as string } },
  );
  const out = await waitForOutput(server, "\n", stderrOf(server));
  return `http://127.0.0.1:${out.match(/listening on (\d+)/)?.[1]}/notes`;
}

/** RFC 8693 exchange by the starter's agent: a notes.read token for the notes API. */
async function exchange(broker: string, subjectToken: string): Promise<string> {
  const res = await post(broker, "/token", {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: TOKEN_TYPE.jwt,
    audience: "notes",
    scope: "notes.read",
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  expect(res.status, body.error).toBe(200);
  return body.access_token as string;
}

/** A form POST to the broker, as the starter's agent (client_secret_basic). */
function post(broker: string, path: string, form: Record<string, string>): Promise<Response> {
  const basic = Buffer.from(`assistant:${secrets.assistant}`).toString("base64");
  return fetch(`${broker}${path}`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}` },
    body: new URLSearchParams(form),
  });
}

/** The same token with one signature character changed. */
function tamper(token: string): string {
  const last = token.at(-2) === "A" ? "B" : "A";
  return `${token.slice(0, -2)}${last}${token.slice(-1)}`;
}

const USE_TS = `import { BearerError, createVerifier, type VerifiedToken } from "baton/verify";

const verifier = createVerifier({ issuer: "http://127.0.0.1:8787", audience: "https://notes.example.com" });

export async function whoIsAsking(authorization: string | undefined): Promise<string> {
  try {
    const who: VerifiedToken = await verifier.verify(authorization, { scopes: ["notes.read"] });
    return \`\${who.subject} via \${who.chain.join(" < ")}\`;
  } catch (err) {
    if (err instanceof BearerError) return \`\${err.status} \${err.code}\`;
    throw err;
  }
}
`;

/** A verifier without its audience: the types must refuse it. */
const MISUSE_TS = `import { createVerifier } from "baton/verify";

// The audience is required: without it, any API's token would pass.
createVerifier({ issuer: "http://127.0.0.1:8787" });
`;

/** Verifies a token that is no JWT: refused locally (no broker needed) as RFC 6750 says. */
const PLAIN_NODE = `import { BearerError, createVerifier } from "baton/verify";
const verifier = createVerifier({ issuer: "http://127.0.0.1:9", audience: "https://notes.example.com" });
const refusal = await verifier.verify("Bearer not-a-jwt").catch((err) => err);
console.log(JSON.stringify({ bearerError: refusal instanceof BearerError, status: refusal.status, code: refusal.code }));
`;
