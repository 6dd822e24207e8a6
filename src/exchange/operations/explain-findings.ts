/**
 * What `baton policy explain` asks and what the replay answers (exchange/operations/explain-grant.ts):
 * the verdict, and each rule that decided as data, the values it decided on. The command's words
 * for them are cli/explain-text.ts's.
 *
 * @module exchange/operations/explain-findings
 */

import type { ErrorCode } from "../../errors.js";

export interface ExplainQuery {
  /** The agent that asks for the access token. */
  readonly agent: string;
  /** The API id or its resource URI. */
  readonly api: string;
  readonly scopes: readonly string[];
  /** The delegators, in delegation order: the first got the user's token, the last delegated to `agent`. */
  readonly via?: readonly string[];
  /** A task template: the task is opened by the first agent of the chain. */
  readonly task?: string;
}

export type Verdict =
  | { readonly kind: "issued" }
  /** Issued once every approver has approved: per grant, or once when the task opens. */
  | {
      readonly kind: "approval";
      readonly approvers: readonly string[];
      readonly at: "grant" | "task";
    }
  | { readonly kind: "refused"; readonly error: ErrorCode; readonly rule: string };

/** One rule that decided, with the values it decided on. */
export type Finding = {
  readonly ok: boolean /** The broker's rule id, on the finding that refused. */;
  readonly rule?: string;
} & Fact;

/** What was checked, in the order the broker meets it, and the values it was checked on. */
export type Fact =
  | { readonly check: "agent"; readonly agent: string; readonly disabled: boolean }
  /** A task opened from a template: the agents' scopes must hold its ceiling. */
  | {
      readonly check: "task";
      readonly template: string;
      readonly opener: string;
      readonly ceiling: readonly string[];
      readonly missing: readonly string[];
    }
  /** The task's one approval, when it opens. */
  | { readonly check: "approval"; readonly template: string; readonly approvers: readonly string[] }
  | {
      readonly check: "delegation";
      readonly from: string;
      readonly to: string;
      /** `to` is in `from`'s `delegate_to`. */
      readonly edge: boolean;
      readonly scopes: readonly string[];
      readonly fromLacks: readonly string[];
      readonly toLacks: readonly string[];
      readonly maxDepth: number;
      /** `chain` is within `maxDepth` and has no cycle. */
      readonly fits: boolean;
      /** The act chain the delegation token would carry, outermost first. */
      readonly chain: readonly string[];
    }
  | { readonly check: "api"; readonly api: string; readonly resource: string }
  | {
      readonly check: "scope";
      readonly scope: string;
      /** The API that defines the scope; absent when none does. */
      readonly api?: string;
      readonly targetApi: string;
      readonly agent: string;
      readonly inAgent: boolean;
      readonly ceiling?: { readonly template: string; readonly holds: boolean };
      /** Who approves an elevated scope, and whether the task's one approval covers it. */
      readonly approval?: { readonly by: string; readonly forTask: boolean };
    }
  | {
      readonly check: "chain";
      readonly agent: string;
      readonly chain: readonly string[];
      readonly maxDepth: number;
      readonly fits: boolean;
      /** No `act` at all: a permitted impersonation on the user's own token (RFC 8693 §1.1). */
      readonly impersonated: boolean;
    }
  | {
      readonly check: "lifetime";
      readonly defaultTtl: number;
      readonly longestTtl: number;
      readonly brokerDefaultTtl: number;
      readonly brokerMaxTtl: number;
      readonly api: string;
      readonly apiMaxTtl?: number;
      readonly task?: { readonly template: string; readonly deadline: number };
      /** Along delegation tokens: none may outlive its parent. */
      readonly delegated: boolean;
    }
  /** A refusal no finding above stands for: its fixed message. */
  | { readonly check: "rule"; readonly message: string };

export interface Explanation {
  readonly verdict: Verdict;
  /** In the order the broker meets them; the last one refused, when the verdict is a refusal. */
  readonly findings: readonly Finding[];
  /** The token that would be issued (scopes, chain outermost first, lifetimes in seconds). */
  readonly grant?: {
    readonly agent: string;
    readonly api: string;
    readonly resource: string;
    readonly scopes: readonly string[];
    readonly act: readonly string[];
    readonly defaultTtl: number;
    readonly maxTtl: number;
  };
  /** The question went through delegators (the replay then assumes what each delegates). */
  readonly delegated: boolean;
}
