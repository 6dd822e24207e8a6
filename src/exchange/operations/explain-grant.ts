/**
 * `baton policy explain`: would the broker issue this grant, and which rules decide? (issue 8)
 *
 * Pure: a compiled policy and a question in, an explanation out. It replays the exchange with
 * the broker's own decision functions (`planTask`, `planDelegation`, `planAccess`,
 * `extendChain`, `approversFor`), so an explanation cannot drift from what `POST /token`
 * decides: every refusal is the `BatonError` those functions throw, with its wire code and
 * rule. Each finding is data (the values a rule decided on); the command's words for them are
 * cli/explain-text.ts's.
 *
 * The replay, in the order the broker meets each step:
 *   1. `--task`: the first agent of the chain opens a task from the template with the user's
 *      token (exchange/start-task.ts): its ceiling narrowed to that agent's scopes (rule 1),
 *      one approval of the ceiling by the template's and the scopes' approvers (rule 6).
 *   2. `--via A,B`: in delegation order: A gets the user's token and delegates to B, B to the
 *      agent asked about. Each step is a delegation token (rules 1, 4, 5).
 *   3. The agent exchanges the last token for an access token for the API (rules 1, 2, 4),
 *      then rule 6: elevated scopes wait for their approvers, unless the task's standing
 *      approval covers them.
 * Assumed, since no request is at hand: the user's token bounds no scope and outlives the
 * grant, and each delegator delegates exactly the scopes asked about (the most it could pass on).
 *
 * @module exchange/operations/explain-grant
 */

import { BatonError } from "../../errors.js";
import type { Api, Policy } from "../../policy/types.js";
import { approversFor } from "../steps/approval.js";
import { coveredByTask } from "../steps/enter-task.js";
import { resolveAnyApi } from "../steps/target.js";
import type { ExplainQuery, Explanation, Finding, Verdict } from "./explain-findings.js";
import { type Input, lifetimeFinding, NOW, replay, request } from "./explain-replay.js";

export type {
  ExplainQuery,
  Explanation,
  Fact,
  Finding,
  Verdict,
} from "./explain-findings.js";

/** A question that names something the policy does not define: bad input, not a refusal. */
export class ExplainInputError extends Error {
  override readonly name = "ExplainInputError";
}

export function explainGrant(policy: Policy, query: ExplainQuery): Explanation {
  const input = resolveInput(policy, query);
  const delegated = input.via.length > 0;
  const findings: Finding[] = [];
  try {
    const outcome = replay(policy, input, undefined, findings);
    const longest = replay(policy, input, policy.broker.maxTtl, []);
    const { grant, task, taskApprovers } = outcome;
    findings.push(lifetimeFinding(policy, input, grant.exp, longest.grant.exp, task));
    const approvers = approversFor(policy, grant.scopes);
    // exchange.ts checkElevated: a standing task approval covers the grants of the agents it
    // names (enter-task.ts coveredByTask); any other elevated grant waits for its own.
    const covered =
      approvers.length === 0 ||
      (task !== undefined && coveredByTask(policy, task, input.agent.id, grant.scopes));
    const verdict: Verdict =
      taskApprovers.length > 0 && covered
        ? { kind: "approval", approvers: taskApprovers, at: "task" }
        : approvers.length > 0
          ? { kind: "approval", approvers, at: "grant" }
          : { kind: "issued" };
    return {
      verdict,
      findings,
      grant: {
        agent: input.agent.id,
        api: input.api.id,
        resource: input.api.resource,
        scopes: grant.scopes,
        act: grant.chain,
        defaultTtl: grant.exp - NOW,
        maxTtl: longest.grant.exp - NOW,
      },
      delegated,
    };
  } catch (err) {
    if (!(err instanceof BatonError)) throw err;
    // The broker stops at its first refusal: the first finding that failed is that one.
    const failed = findings.findIndex((f) => !f.ok);
    const first = findings[failed];
    if (first) findings.splice(failed, findings.length - failed, { ...first, rule: err.rule });
    else findings.push({ check: "rule", ok: false, message: err.message, rule: err.rule });
    return { verdict: { kind: "refused", error: err.code, rule: err.rule }, findings, delegated };
  }
}

/** Every id on the command line must exist: a typo is bad input, never a policy refusal. */
function resolveInput(policy: Policy, query: ExplainQuery): Input {
  const agentOf = (id: string) => {
    const agent = policy.agents.get(id);
    if (!agent) throw new ExplainInputError(unknown("agent", id, policy.agents.keys()));
    return agent;
  };
  const agent = agentOf(query.agent);
  const via = (query.via ?? []).map(agentOf);
  let api: Api;
  try {
    // The broker's own lookup: an API id or its exact resource URI (rule 3), whichever kind
    // of token it takes (an API behind its own authorization server is replayed as an ID-JAG).
    api = resolveAnyApi(policy, { ...request(query.scopes), audiences: [query.api] });
  } catch (err) {
    if (!(err instanceof BatonError)) throw err;
    throw new ExplainInputError(unknown("API", query.api, policy.apis.keys()));
  }
  if (query.scopes.length === 0) throw new ExplainInputError("name at least one scope");
  const template = query.task === undefined ? undefined : policy.tasks.get(query.task);
  if (query.task !== undefined && !template) {
    throw new ExplainInputError(unknown("task template", query.task, policy.tasks.keys()));
  }
  return { agent, api, scopes: query.scopes, via, ...(template ? { template } : {}) };
}

function unknown(kind: string, id: string, known: Iterable<string>): string {
  const names = [...known];
  return `unknown ${kind} "${id}"${names.length > 0 ? ` (known: ${names.join(", ")})` : ""}`;
}
