/**
 * The docs a newcomer reads (issue 17): a README of a few screens, and no link in it or in
 * docs/ that leads nowhere, to a missing file or to a heading that is gone.
 */
import { readdirSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

/** The README, the policy reference and every page under docs/. */
const PAGES = [
  "README.md",
  "policies/README.md",
  ...readdirSync("docs")
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces `-`. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

async function anchorsOf(page: string): Promise<Set<string>> {
  const text = (await readFile(page, "utf8")).replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map(([, h]) => slug(h as string)));
}

/** Relative links `[text](target)`, outside code blocks. */
async function linksOf(page: string): Promise<string[]> {
  const text = (await readFile(page, "utf8")).replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map(([, target]) => target as string)
    .filter((target) => !/^[a-z]+:/.test(target));
}

describe("the README", () => {
  it("fits on a few screens: under 250 lines", async () => {
    const lines = (await readFile("README.md", "utf8")).split("\n").length;
    expect(lines).toBeLessThan(250);
  });

  it("gives exactly the two commands: install and run, and test", async () => {
    const readme = await readFile("README.md", "utf8");
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test ");
  });
});

describe.each(PAGES)("the links of %s", (page) => {
  it("lead to files and headings that exist", async () => {
    const broken: string[] = [];
    const links = await linksOf(page);
    for (const link of links) {
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === "" ? page : join(dirname(page), path);
      const exists = await stat(target).then(
        () => true,
        () => false,
      );
      if (!exists) broken.push(`${link}: no file ${target}`);
      else if (anchor !== undefined && target.endsWith(".md")) {
        if (!(await anchorsOf(target)).has(anchor)) broken.push(`${link}: no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("the README's Protect your API", () => {
  it("prints examples/protect-your-api.mjs, which the package test runs, line for line", async () => {
    const readme = await readFile("README.md", "utf8");
    const example = await readFile("examples/protect-your-api.mjs", "utf8");
    const code = example.slice(example.indexOf("import "));
    expect(code.split("\n").length).toBeGreaterThan(10);
    expect(readme).toContain(`\`\`\`js\n${code.trimEnd()}\n\`\`\``);
  });
});

describe("the README's framework snippets", () => {
  it.each(["vercel", "openai", "langchain", "mastra"])(
    "print test/frameworks/snippets/%s.mjs, which the framework tests run, but its printing",
    async (name) => {
      const readme = await readFile("README.md", "utf8");
      const file = await readFile(`test/frameworks/snippets/${name}.mjs`, "utf8");
      const lines = file
        .split("\n")
        .filter((line) => line.trim() !== "")
        .filter((line) => !line.includes("console.log"))
        .filter((line) => !/^await \w+\.(close|disconnect)\(\);$/.test(line));
      expect(lines.length).toBeGreaterThan(3);
      expect(lines.filter((line) => !readme.includes(line))).toEqual([]);
    },
  );
});
