/**
 * Policy edit for the ID-JAG issuing tests (design §3.4, issue 18): APIs behind their own
 * authorization servers, added to a copy of the test policy (never to the shared fixtures).
 *
 * - `chat` (issue 18's example): alone at its server, `chat.post` elevated (the user approves).
 * - `wiki` and `files`: two APIs at one server, told apart by `resource`.
 *
 * Who has a client where: the orchestrator everywhere; the flight-booker at chat (for a
 * delegated ID-JAG); the impersonator at chat under the client id `researcher`, which is also
 * an agent id of Baton (a foreign `client_id` must never pass for that agent); the researcher
 * holds `chat.read` but has no client at chat.
 */

export const CHAT_AS = "https://auth.chat.example/";
export const CHAT = "https://mcp.chat.example/";
export const CHAT_CLIENT = "f53f191f9311af35";
export const BOOKER_CLIENT = "booker-at-chat";
export const SHARED_AS = "https://auth.shared.example";
export const WIKI = "https://wiki.shared.example/";
export const FILES = "https://files.shared.example/";

export function withOutsideApis(data: Record<string, any>, chatAs: string = CHAT_AS): void {
  data.apis.chat = {
    resource: CHAT,
    description: "Team chat",
    authorization_server: chatAs,
    client_ids: {
      orchestrator: CHAT_CLIENT,
      "flight-booker": BOOKER_CLIENT,
      impersonator: "researcher",
    },
    max_ttl: "5m",
    scopes: {
      "chat.read": "Read messages",
      "chat.post": { description: "Post", approval: "subject" },
    },
  };
  data.apis.wiki = {
    resource: WIKI,
    authorization_server: SHARED_AS,
    client_ids: { orchestrator: "orchestrator-at-wiki" },
    scopes: { "wiki.read": "Read pages" },
  };
  data.apis.files = {
    resource: FILES,
    authorization_server: SHARED_AS,
    client_ids: { orchestrator: "orchestrator-at-files" },
    scopes: { "files.read": "Read files" },
  };
  data.agents.orchestrator.scopes.push("chat.read", "chat.post", "wiki.read", "files.read");
  data.agents["flight-booker"].scopes.push("chat.read");
  data.agents.researcher.scopes.push("chat.read");
  data.agents.impersonator.scopes.push("chat.read");
}
