import { defineConfig } from "vitest/config";

export default defineConfig({
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
