/**
 * `planIdJag` called directly (design §3.4, §4): an ID-JAG for an API behind its own
 * authorization server is decided in full from the policy, the verified subject, the parsed
 * request, the task and the clock, before anything is signed, under the rules of an access
 * token. And `baton policy explain` replays it for such an API (one decision, never two).
 */

import { describe, expect, it } from "vitest";
import { planAccess, planIdJag } from "../../src/exchange/operations/exchange.js";
import { explainGrant } from "../../src/exchange/operations/explain-grant.js";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { TokenExchangeRequest } from "../../src/exchange/types.js";
import type { TaskRecord } from "../../src/tasks/task-store.js";
import { TOKEN_TYPE } from "../../src/tokens/token-types.js";
import {
  BOOKER_CLIENT,
  CHAT,
  CHAT_AS,
  CHAT_CLIENT,
  FILES,
  SHARED_AS,
  WIKI,
  withOutsideApis,
} from "../helpers/outside-apis.js";
import {
  agentOf,
  delegatedSubject,
  NOW,
  plannerPolicy,
  refusalOf,
  requestOf,
  subjectOf,
  taskOf,
} from "./planner-fixtures.js";

const policy = plannerPolicy(withOutsideApis);

const idJagRequest = (over: Partial<TokenExchangeRequest> = {}) =>
  requestOf({ requestedTokenType: TOKEN_TYPE.idJag, audiences: [CHAT_AS], ...over });

function plan(
  agentId: string,
  over: Partial<TokenExchangeRequest>,
  subject: Subject = subjectOf(),
  task?: TaskRecord,
  delegators: readonly string[] = [],
) {
  return planIdJag(
    policy,
    idJagRequest(over),
    agentOf(policy, agentId),
    subject,
    task,
    NOW,
    delegators.map((id) => agentOf(policy, id)),
  );
}

describe("planIdJag: the grant", () => {
  it("the server as aud, the API as resource, the mapped client, act, 5 minutes", () => {
    expect(plan("orchestrator", { scopes: ["chat.read"] })).toEqual({
      kind: "id_jag",
      agent: agentOf(policy, "orchestrator"),
      chain: ["orchestrator"],
      scopes: ["chat.read"],
      exp: NOW + 300,
      audience: "chat",
      aud: CHAT_AS,
      resource: CHAT,
      clientId: CHAT_CLIENT,
    });
  });

  it("resource picks one of the APIs a server shares", () => {
    const grant = plan("orchestrator", {
      audiences: [SHARED_AS],
      resources: [WIKI],
      scopes: ["wiki.read"],
    });
    expect(grant).toMatchObject({ audience: "wiki", aud: SHARED_AS, resource: WIKI });
    expect(grant.clientId).toBe("orchestrator-at-wiki");
    expect(
      plan("orchestrator", { audiences: [SHARED_AS], resources: [FILES], scopes: ["files.read"] })
        .clientId,
    ).toBe("orchestrator-at-files");
  });

  it("rule 2: the earliest of the ask, the API's max_ttl, the subject and the task deadline", () => {
    expect(plan("orchestrator", { scopes: ["chat.read"], ttlSeconds: 7200 }).exp).toBe(NOW + 300);
    expect(plan("orchestrator", { scopes: ["chat.read"], ttlSeconds: 30 }).exp).toBe(NOW + 30);
    const subject = subjectOf({ exp: NOW + 100 });
    expect(plan("orchestrator", { scopes: ["chat.read"] }, subject).exp).toBe(NOW + 100);
    const task = taskOf({ ceiling: ["chat.read"], deadline: NOW + 42 });
    expect(plan("orchestrator", { scopes: ["chat.read"] }, subjectOf(), task)).toMatchObject({
      exp: NOW + 42,
      txn: "tsk_unit",
    });
  });

  it("rule 4: a delegated subject's chain is kept, and its holder's client named", () => {
    const subject = delegatedSubject(["orchestrator"], ["chat.read"], { mayAct: "flight-booker" });
    const grant = plan("flight-booker", { scopes: ["chat.read"] }, subject, undefined, [
      "orchestrator",
    ]);
    expect(grant).toMatchObject({
      chain: ["flight-booker", "orchestrator"],
      clientId: BOOKER_CLIENT,
    });
  });
});

describe("planIdJag: refusals (code, status, rule)", () => {
  const refused = (fn: () => unknown) => refusalOf(fn);
  it("targets", () => {
    expect(refused(() => plan("researcher", { scopes: ["chat.read"] }))).toEqual({
      code: "invalid_target",
      status: 400,
      rule: "target.client_id",
    });
    expect(
      refused(() => plan("orchestrator", { audiences: ["calendar"], scopes: ["calendar.read"] }))
        .rule,
    ).toBe("target.not_id_jag");
    expect(
      refused(() => plan("orchestrator", { audiences: [SHARED_AS], scopes: ["wiki.read"] })).rule,
    ).toBe("target.many");
    expect(refused(() => plan("orchestrator", { audiences: [], scopes: ["chat.read"] }))).toEqual({
      code: "invalid_request",
      status: 400,
      rule: "request.audience_missing",
    });
    expect(
      refused(() => plan("orchestrator", { resources: ["chat"], scopes: ["chat.read"] })).rule,
    ).toBe("target.resource_form");
  });

  it("rule 1: API, agent, subject, ceiling, delegator", () => {
    const rule = (fn: () => unknown) => refused(fn).rule;
    expect(rule(() => plan("orchestrator", { scopes: ["docs.read"] }))).toBe("narrow.scope.api");
    expect(rule(() => plan("impersonator", { scopes: ["chat.post"] }))).toBe("narrow.scope.agent");
    const bound = subjectOf({ scopes: new Set(["docs.read"]) });
    expect(rule(() => plan("orchestrator", { scopes: ["chat.read"] }, bound))).toBe(
      "narrow.scope.subject",
    );
    expect(rule(() => plan("orchestrator", { scopes: ["chat.read"] }, subjectOf(), taskOf()))).toBe(
      "narrow.scope.task",
    );
    expect(rule(() => plan("orchestrator", {}))).toBe("narrow.scope.none");
  });

  it("an access token for such an API is target.id_jag_only, by any name", () => {
    for (const over of [
      { audiences: ["chat"] },
      { resources: [CHAT] },
      { audiences: [CHAT_AS] },
      {},
    ]) {
      expect(
        refusalOf(() =>
          planAccess(
            policy,
            requestOf({ scopes: ["chat.read"], ...over }),
            agentOf(policy, "orchestrator"),
            subjectOf(),
            undefined,
            NOW,
          ),
        ),
      ).toEqual({ code: "invalid_target", status: 400, rule: "target.id_jag_only" });
    }
  });
});

describe("baton policy explain replays planIdJag", () => {
  it("issued, or waiting for the user, or refused for an agent without a client there", () => {
    const read = explainGrant(policy, {
      agent: "orchestrator",
      api: "chat",
      scopes: ["chat.read"],
    });
    expect(read.verdict).toEqual({ kind: "issued" });
    expect(read.grant).toMatchObject({ api: "chat", resource: CHAT, defaultTtl: 300, maxTtl: 300 });
    const post = explainGrant(policy, { agent: "orchestrator", api: CHAT, scopes: ["chat.post"] });
    expect(post.verdict).toEqual({ kind: "approval", approvers: ["subject"], at: "grant" });
    const stranger = explainGrant(policy, {
      agent: "researcher",
      api: "chat",
      scopes: ["chat.read"],
    });
    expect(stranger.verdict).toEqual({
      kind: "refused",
      error: "invalid_target",
      rule: "target.client_id",
    });
  });
});
