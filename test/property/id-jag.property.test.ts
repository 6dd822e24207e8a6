/**
 * Design §3.4: "every rule of §4 applies to [an ID-JAG] as to an access token". Stated as a
 * property of the planners: for random agents, subject tokens (bound or not, delegated or
 * not), tasks, requested scopes and lifetimes, `planIdJag` for an API behind its own
 * authorization server decides exactly what `planAccess` decides for the same API without one:
 * the same refusal (code and rule), or the same scopes, `exp`, chain and `txn`. Only the
 * addressing differs: the server as `aud`, the API as `resource`, the agent's client there.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatonError } from "../../src/errors.js";
import { type Grant, planAccess, planIdJag } from "../../src/exchange/operations/exchange.js";
import type { Subject } from "../../src/exchange/steps/verify-subject.js";
import type { Policy } from "../../src/policy/types.js";
import { TOKEN_TYPE } from "../../src/tokens/token-types.js";
import { CHAT, CHAT_AS, CHAT_CLIENT, withOutsideApis } from "../helpers/outside-apis.js";
import {
  agentOf,
  NOW,
  plannerPolicy,
  requestOf,
  subjectOf,
  taskOf,
} from "../unit/planner-fixtures.js";

const SCOPES = ["chat.read", "chat.post", "docs.read", "calendar.read"];
const CHAT_SCOPES = ["chat.read", "chat.post"];

/** The same policy twice: chat behind its own server, and chat as a plain API. */
function policies(orchestratorScopes: readonly string[], bookerScopes: readonly string[]) {
  const edit = (outside: boolean) => (data: Record<string, any>) => {
    withOutsideApis(data);
    if (!outside) {
      delete data.apis.chat.authorization_server;
      delete data.apis.chat.client_ids;
    }
    const keep = (scopes: string[]) => scopes.filter((s) => !CHAT_SCOPES.includes(s));
    data.agents.orchestrator.scopes = [
      ...keep(data.agents.orchestrator.scopes),
      ...orchestratorScopes.filter((s) => CHAT_SCOPES.includes(s)),
    ];
    data.agents["flight-booker"].scopes = [
      ...keep(data.agents["flight-booker"].scopes),
      ...bookerScopes.filter((s) => CHAT_SCOPES.includes(s)),
    ];
  };
  return { outside: plannerPolicy(edit(true)), plain: plannerPolicy(edit(false)) };
}

/** Biased towards what could be granted, so that both sides of the property are common. */
const scopesArb = fc.oneof(
  { weight: 3, arbitrary: fc.subarray(CHAT_SCOPES, { minLength: 1 }) },
  { weight: 1, arbitrary: fc.subarray(SCOPES) },
);

const drawArb = fc.record({
  orchestrator: fc.subarray(CHAT_SCOPES),
  booker: fc.subarray(CHAT_SCOPES),
  /** The flight-booker acts on the orchestrator's delegation, or the orchestrator on the user's. */
  delegated: fc.boolean(),
  bound: fc.option(fc.subarray(SCOPES, { minLength: 2 }), { nil: undefined, freq: 2 }),
  subjectTtl: fc.integer({ min: 1, max: 7200 }),
  task: fc.option(
    fc.record({
      ceiling: fc.subarray(SCOPES, { minLength: 2 }),
      deadline: fc.integer({ min: 1, max: 7200 }),
    }),
    { nil: undefined, freq: 2 },
  ),
  scopes: fc.option(scopesArb, { nil: undefined, freq: 8 }),
  ttl: fc.option(fc.integer({ min: 1, max: 7200 }), { nil: undefined }),
});

type Outcome =
  | { readonly refused: { readonly code: string; readonly rule: string } }
  | { readonly grant: Grant };

function outcome(fn: () => Grant): Outcome {
  try {
    return { grant: fn() };
  } catch (err) {
    if (!(err instanceof BatonError)) throw err;
    return { refused: { code: err.code, rule: err.rule } };
  }
}

/** What both kinds share: the decision, not the addressing. */
const decision = (o: Outcome) =>
  "refused" in o
    ? o
    : {
        scopes: o.grant.scopes,
        exp: o.grant.exp,
        chain: o.grant.chain,
        txn: o.grant.txn,
        audience: o.grant.audience,
      };

describe("design §3.4: an ID-JAG is decided as an access token is", () => {
  it("the same refusal, or the same scopes, exp, chain and txn", () => {
    const seen = { granted: 0, refused: 0 };
    fc.assert(
      fc.property(drawArb, (d) => {
        const { outside, plain } = policies(d.orchestrator, d.booker);
        const agentId = d.delegated ? "flight-booker" : "orchestrator";
        const subject: Subject = subjectOf({
          exp: NOW + d.subjectTtl,
          ...(d.bound ? { scopes: new Set(d.bound) } : {}),
          ...(d.delegated
            ? { source: "delegation", chain: ["orchestrator"], jti: "p", mayAct: agentId }
            : {}),
        });
        const task = d.task
          ? taskOf({ ceiling: d.task.ceiling, deadline: NOW + d.task.deadline })
          : undefined;
        const asked = {
          ...(d.scopes ? { scopes: d.scopes } : {}),
          ...(d.ttl ? { ttlSeconds: d.ttl } : {}),
        };
        const run = (policy: Policy, idJag: boolean) => () =>
          (idJag ? planIdJag : planAccess)(
            policy,
            requestOf(
              idJag
                ? { requestedTokenType: TOKEN_TYPE.idJag, audiences: [CHAT_AS], ...asked }
                : { audiences: ["chat"], ...asked },
            ),
            agentOf(policy, agentId),
            subject,
            task,
            NOW,
            d.delegated ? [agentOf(policy, "orchestrator")] : [],
          );
        const idJag = outcome(run(outside, true));
        seen["grant" in idJag ? "granted" : "refused"]++;
        expect(decision(idJag)).toEqual(decision(outcome(run(plain, false))));
        if ("grant" in idJag) {
          expect(idJag.grant).toMatchObject({ kind: "id_jag", aud: CHAT_AS, resource: CHAT });
          expect(idJag.grant.clientId).toBe(d.delegated ? "booker-at-chat" : CHAT_CLIENT);
        }
      }),
      { numRuns: 400 },
    );
    // Not vacuous: both sides of the property are drawn often.
    expect(seen.granted).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });
});
