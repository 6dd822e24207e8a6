/**
 * Issue 18 item 1: where an ID-JAG is redeemed. The token endpoint of an outside authorization
 * server, read from its RFC 8414 metadata over real HTTP on loopback (a second Baton, whose
 * metadata is real, and a counting server for the odd answers), cached, with time an argument.
 * A lookup never throws: whatever goes wrong, the answer is "unknown" (undefined).
 */

import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metadataUrl, tokenEndpoints } from "../../src/tokens/outside-servers.js";
import { type CountingServer, startCountingServer } from "../helpers/assertions.js";
import { startTestBroker, T0, type TestBroker } from "../helpers/broker.js";

const WELL_KNOWN = "/.well-known/oauth-authorization-server";

let as: TestBroker;
let odd: CountingServer;
beforeAll(async () => {
  as = await startTestBroker();
  odd = await startCountingServer();
});
afterAll(async () => {
  await as.close();
  await odd.close();
});

/** A loopback URL where nothing listens (connection refused at once). */
async function nobodyHome(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe("RFC 8414 §3.1: the metadata URL", () => {
  it("puts the well-known suffix between the host and the issuer's path", () => {
    expect(metadataUrl("https://auth.chat.example/").href).toBe(
      `https://auth.chat.example${WELL_KNOWN}`,
    );
    expect(metadataUrl("https://login.example.com/tenant/a").href).toBe(
      `https://login.example.com${WELL_KNOWN}/tenant/a`,
    );
  });
});

describe("tokenEndpoints", () => {
  it("reads token_endpoint from a real authorization server's metadata", async () => {
    const lookup = tokenEndpoints();
    expect(await lookup(as.issuer, T0)).toBe(`${as.issuer}/token`);
  });

  it("keeps the answer for an hour, shares one fetch, and asks again after", async () => {
    const issuer = odd.url;
    odd.route(WELL_KNOWN, { issuer, token_endpoint: `${issuer}/oauth/token` });
    const before = odd.hits(WELL_KNOWN);
    const lookup = tokenEndpoints({ ttlSeconds: 3600 });
    const both = await Promise.all([lookup(issuer, T0), lookup(issuer, T0)]);
    expect(both).toEqual([`${issuer}/oauth/token`, `${issuer}/oauth/token`]);
    expect(await lookup(issuer, T0 + 3599)).toBe(`${issuer}/oauth/token`);
    expect(odd.hits(WELL_KNOWN) - before).toBe(1);
    odd.route(WELL_KNOWN, { issuer, token_endpoint: `${issuer}/v2/token` });
    expect(await lookup(issuer, T0 + 3600)).toBe(`${issuer}/v2/token`);
    expect(odd.hits(WELL_KNOWN) - before).toBe(2);
  });

  it("answers undefined when the server is down, and waits a minute before trying again", async () => {
    const issuer = await nobodyHome();
    const lookup = tokenEndpoints({ failureTtlSeconds: 60 });
    expect(await lookup(issuer, T0)).toBeUndefined();
    expect(await lookup(issuer, T0 + 59)).toBeUndefined();
  });

  it("answers undefined for metadata that is not the issuer's, or has no usable endpoint", async () => {
    const issuer = odd.url;
    const lookup = (body: unknown, status = 200) => {
      odd.route(WELL_KNOWN, body, status);
      return tokenEndpoints()(issuer, T0);
    };
    // RFC 8414 §3.3: the issuer must be exactly the one asked about.
    expect(await lookup({ issuer: `${issuer}/`, token_endpoint: `${issuer}/token` })).toBe(
      undefined,
    );
    expect(await lookup({ issuer })).toBeUndefined();
    expect(await lookup({ issuer, token_endpoint: "not a url" })).toBeUndefined();
    // RFC 6749 §3.2: TLS, but for loopback.
    expect(await lookup({ issuer, token_endpoint: "http://auth.example/token" })).toBeUndefined();
    expect(await lookup({ issuer, token_endpoint: `${issuer}/token` }, 500)).toBeUndefined();
    // Metadata is small: a body past 64 KiB is not read to its end.
    const padded = { issuer, token_endpoint: `${issuer}/token`, pad: "x".repeat(70_000) };
    expect(await lookup(padded)).toBeUndefined();
    expect(await lookup({ issuer, token_endpoint: "https://auth.example/token" })).toBe(
      "https://auth.example/token",
    );
  });

  it("a failure is retried once its minute is over", async () => {
    const issuer = odd.url;
    odd.route(WELL_KNOWN, { error: "later" }, 503);
    const lookup = tokenEndpoints({ failureTtlSeconds: 60 });
    expect(await lookup(issuer, T0)).toBeUndefined();
    odd.route(WELL_KNOWN, { issuer, token_endpoint: `${issuer}/token` });
    expect(await lookup(issuer, T0 + 30)).toBeUndefined();
    expect(await lookup(issuer, T0 + 60)).toBe(`${issuer}/token`);
  });
});
