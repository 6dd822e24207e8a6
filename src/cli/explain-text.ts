/**
 * `baton policy explain` in words: each finding of the core's replay
 * (exchange/operations/explain-grant.ts, reached through exchange/broker.ts) as one line, the
 * verdict first, then what the replay assumed. The JSON of `--json` is this same text form.
 *
 * @module cli/explain-text
 */

import type { Explanation, Finding, Verdict } from "../exchange/broker.js";

/** One finding, in words; `rule` on the one that refused. */
export interface FindingText {
  readonly check: Finding["check"];
  readonly ok: boolean;
  readonly text: string;
  readonly rule?: string;
}

/** What `baton policy explain` prints, and `--json` prints as it is. */
export interface ExplanationText {
  readonly verdict: Verdict;
  readonly findings: readonly FindingText[];
  readonly grant?: Explanation["grant"];
  readonly assumptions: readonly string[];
}

export function explanationText(explanation: Explanation): ExplanationText {
  const { verdict, grant } = explanation;
  return {
    verdict,
    findings: explanation.findings.map((f) => ({
      check: f.check,
      ok: f.ok,
      text: findingText(f),
      ...(f.rule === undefined ? {} : { rule: f.rule }),
    })),
    ...(grant ? { grant } : {}),
    // What the replay takes for granted, since no real token is at hand.
    assumptions: [
      "the user's token bounds no scope and outlives the grant",
      ...(explanation.delegated ? ["each delegator delegates exactly the scopes asked about"] : []),
    ],
  };
}

/** The verdict, then each finding (the refusing one names its rule), then the assumptions. */
export function render(explanation: ExplanationText): string[] {
  return [
    verdictLine(explanation.verdict),
    ...explanation.findings.map((f) => `  ${f.text}${f.rule === undefined ? "" : ` ← ${f.rule}`}`),
    `  assumes: ${explanation.assumptions.join("; ")}`,
  ];
}

export function verdictLine(verdict: Verdict): string {
  switch (verdict.kind) {
    case "issued":
      return "issued";
    case "approval":
      return `issued after approval by ${verdict.approvers.join(" and ")}`;
    case "refused":
      return `refused: ${verdict.error} (${verdict.rule})`;
  }
}

const mark = (ok: boolean) => (ok ? "✓" : "✗");
const and = (items: readonly string[]) => items.join(" and ");

export function findingText(f: Finding): string {
  switch (f.check) {
    case "agent":
      return `agent ${f.agent}: ${f.disabled ? "disabled" : "enabled"} ${mark(!f.disabled)}`;
    case "task": {
      const head = `task ${f.template}: opened by ${f.opener}, ceiling ${f.ceiling.join(" ")}`;
      return f.missing.length === 0
        ? `${head} ${mark(true)}`
        : `${head}: ${f.missing.join(" ")} not in ${f.opener}'s scopes ${mark(false)}`;
    }
    case "approval":
      return (
        `task ${f.template}: one approval by ${and(f.approvers)} when it opens covers the ` +
        "agents it names: the opener and each agent a delegation reaches with an elevated scope of the ceiling (rule 6)"
      );
    case "delegation":
      return delegationText(f);
    case "api":
      return `api ${f.api}: aud ${f.resource} ✓`;
    case "scope":
      return scopeText(f);
    case "chain":
      return f.impersonated
        ? `act: none: ${f.agent} may impersonate and acts on the user's own token (RFC 8693 §1.1)`
        : `act chain ${f.chain.join(", ")} (outermost first, ${f.chain.length} of max_depth ` +
            `${f.maxDepth}) ${mark(f.fits)}`;
    case "lifetime":
      return lifetimeText(f);
    case "rule":
      return f.message;
  }
}

function delegationText(f: Extract<Finding, { check: "delegation" }>): string {
  const held = (agent: string, lacking: readonly string[]) =>
    lacking.length === 0
      ? `${agent}'s scopes hold ${f.scopes.join(" ")} ${mark(true)}`
      : `${agent}'s scopes lack ${lacking.join(" ")} ${mark(false)}`;
  return (
    `delegation ${f.from} → ${f.to}: ${f.to} in ${f.from}'s delegate_to ${mark(f.edge)}, ` +
    `${held(f.from, f.fromLacks)}, ${held(f.to, f.toLacks)}, act chain ${f.chain.join(", ")} ` +
    `(${f.chain.length} of max_depth ${f.maxDepth}) ${mark(f.fits)}`
  );
}

/** One scope against every bound of rule 1, then rule 6. */
function scopeText(f: Extract<Finding, { check: "scope" }>): string {
  if (f.api === undefined) return `scope ${f.scope}: no API defines it ${mark(false)}`;
  const parts: [string, boolean][] = [
    [
      f.api === f.targetApi ? `in API ${f.targetApi}` : `belongs to API ${f.api}`,
      f.api === f.targetApi,
    ],
    [`in agent ${f.agent}'s scopes`, f.inAgent],
  ];
  if (f.ceiling) parts.push([`in task ${f.ceiling.template}'s ceiling`, f.ceiling.holds]);
  const text = parts.map(([what, pass]) => `${what} ${mark(pass)}`);
  if (f.approval) {
    text.push(
      f.approval.forTask
        ? `elevated: approval by ${f.approval.by}, given once for the task`
        : `elevated: approval by ${f.approval.by}`,
    );
  }
  return `scope ${f.scope}: ${text.join(", ")}`;
}

function lifetimeText(f: Extract<Finding, { check: "lifetime" }>): string {
  const caps = [
    ...(f.apiMaxTtl === undefined ? [] : [`API ${f.api} max_ttl ${duration(f.apiMaxTtl)}`]),
    `broker max_ttl ${duration(f.brokerMaxTtl)}`,
    ...(f.task ? [`task ${f.task.template} deadline ${duration(f.task.deadline)}`] : []),
  ];
  return (
    `lifetime: ${duration(f.defaultTtl)} by default (default_ttl ${duration(f.brokerDefaultTtl)}` +
    `${f.delegated ? ", and no longer than each delegation token" : ""}), ` +
    `at most ${duration(f.longestTtl)} (${caps.join(", ")})`
  );
}

/** 3600 → `1h`, 5400 → `1h30m`, 45 → `45s`: the policy's own spelling where it can be. */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${s > 0 ? `${s}s` : ""}`;
  return text === "" ? "0s" : text;
}
