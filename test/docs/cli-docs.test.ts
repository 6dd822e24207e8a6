/** docs/cli.md is generated from the commander program: it must match what the program renders. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { cliReference } from "../../src/main/cli-reference.js";
import { buildProgram } from "../../src/main/program.js";

/** Every command `baton --help` reaches, by full name (`approvals list`). */
function commandNames(): string[] {
  const names: string[] = [];
  const visit = (cmd: ReturnType<typeof buildProgram>, prefix: string) => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length === 0) names.push(name);
      visit(sub, `${name} `);
    }
  };
  visit(buildProgram(), "");
  return names;
}

describe("docs/cli.md", () => {
  it("is what the commander program renders now", async () => {
    const committed = await readFile("docs/cli.md", "utf8");
    expect(committed, "docs/cli.md is stale: run `npm run docs:cli`").toBe(
      cliReference(buildProgram()),
    );
  });

  it("has a section, with examples, for every command", () => {
    const doc = cliReference(buildProgram());
    const names = commandNames();
    expect(names).toContain("serve");
    expect(names).toContain("approvals approve");
    for (const name of names) {
      const start = doc.indexOf(`## \`baton ${name}\`\n`);
      expect(start, name).toBeGreaterThan(0);
      const end = doc.indexOf("\n## ", start + 1);
      expect(doc.slice(start, end === -1 ? undefined : end), name).toContain("Examples:");
    }
  });

  it("names every flag's environment variable and default", () => {
    const doc = cliReference(buildProgram());
    expect(doc).toContain("| `--port <port>` | `BATON_PORT` | listen port; default `8787` |");
    expect(doc).toMatch(/\| `--store <url>` \| `BATON_STORE` \| [^|]*default `sqlite:/);
    expect(doc).toContain(
      "- `BATON_CLIENT_SECRET`: the agent's client secret; required with --broker",
    );
  });
});

describe("the environment variables src/ reads", () => {
  it("are each named in docs/cli.md, by a flag or in the list without one", async () => {
    const { readdir, readFile: read } = await import("node:fs/promises");
    const files = (await readdir("src", { recursive: true })).filter((f) => f.endsWith(".ts"));
    const names = new Set<string>();
    for (const file of files) {
      for (const [name] of (await read(`src/${file}`, "utf8")).matchAll(/\bBATON_[A-Z_]+\b/g)) {
        names.add(name);
      }
    }
    expect(names.size).toBeGreaterThan(15);
    const doc = cliReference(buildProgram());
    const missing = [...names].filter((name) => !doc.includes(`\`${name}\``));
    expect(missing, "name them in ENVIRONMENT_ONLY (src/main/cli-reference.ts)").toEqual([]);
  });
});
