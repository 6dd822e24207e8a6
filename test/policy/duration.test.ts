import { describe, expect, it } from "vitest";
import { isDuration, parseDuration } from "../../src/policy/duration.js";

describe("parseDuration", () => {
  it.each([
    ["30s", 30],
    ["5m", 300],
    ["1h", 3600],
    ["90m", 5400],
  ])("%s is %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "0s", "05m", "1.5h", "1d", "10", "-5m", "5 m", "5M", "1234567s", "m"])(
    "refuses %j",
    (text) => {
      expect(isDuration(text)).toBe(false);
      expect(() => parseDuration(text)).toThrow(RangeError);
    },
  );
});
