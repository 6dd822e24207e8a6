/**
 * Writes `docs/cli.md` from the commander program (`npm run docs:cli`).
 * test/docs/cli-docs.test.ts fails when the committed file is out of date.
 *
 * @module scripts/write-cli-docs
 */

import { writeFile } from "node:fs/promises";
import { cliReference } from "../src/main/cli-reference.js";
import { buildProgram } from "../src/main/program.js";

const target = new URL("../docs/cli.md", import.meta.url);
await writeFile(target, cliReference(buildProgram()));
console.log(`wrote ${target.pathname}`);
