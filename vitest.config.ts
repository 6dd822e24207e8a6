import { availableParallelism } from "node:os";
import { defaultServerConditions } from "vite";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * The unit project: tests that run in this process alone (pure planners, the in-process test
 * broker over loopback HTTP, SQLite and memory stores in a temp directory): no child process,
 * no browser, no redis-server. `npx vitest run --project unit` answers in seconds. A new test
 * file goes to the system project unless it is listed here, so none is ever left out.
 */
const UNIT = [
  "test/adversarial/delegated-only.test.ts",
  "test/adversarial/escalation.test.ts",
  "test/adversarial/form-charset.test.ts",
  "test/adversarial/hardening.test.ts",
  "test/adversarial/id-jag.test.ts",
  "test/adversarial/introspection.test.ts",
  "test/adversarial/lineage.test.ts",
  "test/adversarial/task-approval-covers.test.ts",
  "test/adversarial/tokens.test.ts",
  "test/approvals/approval-dedupe.test.ts",
  "test/approvals/approvals-http.test.ts",
  "test/approvals/task-approval-covers.test.ts",
  "test/approvals/task-tree-http.test.ts",
  "test/architecture/**/*.test.ts",
  "test/audit/**/*.test.ts",
  "test/cli/banner.test.ts",
  "test/docs/**/*.test.ts",
  "test/id-jag/issue-http.test.ts",
  "test/id-jag/issue-mcp.test.ts",
  "test/id-jag/redeem.test.ts",
  "test/id-jag/two-domains.test.ts",
  "test/integration/actor-token.test.ts",
  "test/integration/chain.test.ts",
  "test/integration/client-auth.test.ts",
  "test/integration/remote-jwks.test.ts",
  "test/integration/reserved-names.test.ts",
  "test/interop/**/*.test.ts",
  "test/mcp/approval-hints.test.ts",
  "test/mcp/context-size.test.ts",
  "test/mcp/http-auth.test.ts",
  "test/mcp/http.e2e.test.ts",
  "test/mcp/null-inputs.test.ts",
  "test/mcp/parity.test.ts",
  "test/mcp/scripted-agent.test.ts",
  "test/mcp/tools.test.ts",
  "test/policy/**/*.test.ts",
  "test/property/**/*.test.ts",
  "test/spec/**/*.test.ts",
  "test/store/keyv-store.test.ts",
  "test/tasks/task-log.test.ts",
  "test/tasks/tasks.test.ts",
  "test/tokens/jws.test.ts",
  "test/tokens/key-ring.test.ts",
  "test/tokens/mint.test.ts",
  "test/tokens/outside-servers.test.ts",
  "test/tokens/verified-cache.test.ts",
  "test/unit/**/*.test.ts",
  "test/verify/**/*.test.ts",
];

/** The projects that spawn `baton` run the build, made fresh first (test/setup/build-dist.ts). */
const BUILD_DIST = "test/setup/build-dist.ts";

/** Tests in headless Chromium (the approval page, the sign-in). */
const BROWSER = ["test/**/*.browser.test.ts"];

/**
 * Files of the system and browser projects at once. They spend most of their time waiting on the
 * processes they spawn (baton, redis-server, Chromium), so two run side by side even on two
 * cores: vitest's default (cores - 1) ran one at a time. Measured on 2 cores, `npx vitest run`:
 * 355 s with two, against 434-466 s with one (issue 15). Both projects run in one group, so
 * they must share the number.
 */
const SPAWNING_WORKERS = 2;

export default defineConfig({
  // `import … from "baton/verify"` resolves through the package's own `exports` (a
  // self-reference) to the TypeScript source, so tests and examples need no build first.
  // Every project extends this config, so every project resolves it the same way.
  ssr: { resolve: { conditions: ["baton-source", ...defaultServerConditions] } },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CI reads the JSON report for its closing "N passed, N failed" line: one report, every
    // project's tests in it; BATON_VITEST_REPORT names another file (one per Node version).
    reporters: process.env.CI
      ? [
          "default",
          ["json", { outputFile: process.env.BATON_VITEST_REPORT ?? "reports/vitest.json" }],
        ]
      : ["default"],
    // Projects run one group after another: unit first, then the rest as before.
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: UNIT,
          exclude: [...configDefaults.exclude, ...BROWSER],
          // Loading the broker's modules costs more than most of these files' tests: one module
          // load per worker rather than per file (no test here mocks a module or leaves globals
          // behind: vi.useFakeTimers is undone in afterEach). Every core, as they share nothing.
          isolate: false,
          maxWorkers: availableParallelism(),
          sequence: { groupOrder: 0 },
        },
      },
      // The real CLI and `serve` as child processes, redis-server, several nodes, the MCP
      // Inspector and conformance clients: every test file not in UNIT or BROWSER.
      {
        extends: true,
        test: {
          name: "system",
          include: ["test/**/*.test.ts"],
          globalSetup: [BUILD_DIST],
          exclude: [...configDefaults.exclude, ...UNIT, ...BROWSER],
          maxWorkers: SPAWNING_WORKERS,
          sequence: { groupOrder: 1 },
        },
      },
      // The approval page and the sign-in in Debian's headless Chromium.
      {
        extends: true,
        test: {
          name: "browser",
          include: BROWSER,
          globalSetup: [BUILD_DIST],
          maxWorkers: SPAWNING_WORKERS,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
