/**
 * The official MCP conformance suite 0.1.13 (Baton's own devDependency, which runs on Node 20)
 * against `/mcp` of a real `baton serve` (issue 3, "done when"). The suite, its proxy and its
 * expectations are test/helpers/conformance-suite.ts; test/frameworks/conformance.test.ts runs
 * the newest version with the same expectations on Node >= 22.
 */

import { join } from "node:path";
import { ROOT } from "../helpers/cli-process.js";
import { conformanceSuite } from "../helpers/conformance-suite.js";

conformanceSuite({ version: "0.1.13", bin: join(ROOT, "node_modules/.bin/conformance") });
