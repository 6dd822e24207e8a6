import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // `import … from "baton/verify"` resolves through the package's own `exports` (a
  // self-reference) to the TypeScript source, so tests and examples need no build first.
  ssr: { resolve: { conditions: ["baton-source", ...defaultServerConditions] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CI reads the JSON report for its closing "N passed, N failed" line.
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: "reports/vitest.json" }]]
      : ["default"],
  },
});
