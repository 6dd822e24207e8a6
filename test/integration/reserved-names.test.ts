/**
 * Names the broker keeps for itself (src/main/compose.ts checkedPolicy): an API may not be
 * addressed as the issuer (delegation tokens' `aud`) or as the broker's own `/mcp` (the `aud` of
 * its token for `/mcp`), and no API's `authorization_server` may be the broker itself (an
 * identity provider never trades its own ID-JAG for an access token: the ID-JAG draft). Tested
 * at start; a reload runs the same check.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { startTestBroker } from "../helpers/broker.js";

/** The test broker's issuer is the `audience` its outside issuer's tokens must carry. */
const issuerOf = (data: Record<string, any>) => data.issuers[0].audience as string;

describe("names the broker keeps for itself", () => {
  it.each([
    ["the issuer", (issuer: string) => ({ resource: issuer }), /equals the resource of API "x"/],
    [
      "the issuer's /mcp",
      (issuer: string) => ({ resource: `${issuer}/mcp` }),
      /the resource of API "x" is this broker's own \/mcp/,
    ],
    [
      "the issuer as authorization_server (with a trailing slash)",
      (issuer: string) => ({
        resource: "https://x.example",
        authorization_server: `${issuer}/`,
        client_ids: { orchestrator: "abc" },
      }),
      /the authorization_server of API "x" is this broker itself/,
    ],
  ])("an API named by %s is refused at start", async (_what, api, message) => {
    const started = startTestBroker({
      editPolicy: (data) => {
        data.apis.x = { ...api(issuerOf(data)), scopes: { "x.read": "Read" } };
      },
    });
    const err = await started.then(
      async (b) => {
        await b.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });
});
