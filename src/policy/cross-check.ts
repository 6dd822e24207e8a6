/**
 * Rules that span policy files: one definition per id, scope and resource, and every reference
 * (a scope, an agent, an approver group) pointing at something that exists.
 *
 * The files are merged, so a rule broken across two files is as wrong as one broken inside a
 * single file; messages name both files so the reader knows where to look.
 *
 * @module policy/cross-check
 */

import { parseDuration } from "./duration.js";
import { issueLine } from "./policy-error.js";
import { BROKER_DEFAULTS, type PolicyFile } from "./schema.js";

export interface ValidFile {
  readonly file: string;
  readonly data: PolicyFile;
}

type Kind = "API" | "agent" | "task template" | "approver group";
type Path = readonly PropertyKey[];

/** Where each id, scope and resource was first defined, to name both places on a repeat. */
interface Definitions {
  readonly ids: Map<string, { kind: Kind; file: string }>;
  /** Scope name → the API that defines it. */
  readonly scopes: Map<string, { api: string; file: string }>;
  readonly agents: Set<string>;
  /** Agents some agent's `delegate_to` names: the only ones a delegation can reach. */
  readonly delegatedTo: Set<string>;
  readonly groups: Set<string>;
}

/** Every cross-file problem, as `file: path: message` lines (empty when the policy is sound). */
export function crossCheck(files: readonly ValidFile[]): string[] {
  const issues: string[] = [];
  const report = (file: string, path: Path, message: string) =>
    issues.push(issueLine(file, path, message));
  const defs = collectDefinitions(files, report);
  for (const { file, data } of files) {
    checkReferences(file, data, defs, report);
  }
  checkLifetimes(files, report);
  return issues;
}

type Report = (file: string, path: Path, message: string) => void;

function collectDefinitions(files: readonly ValidFile[], report: Report): Definitions {
  const defs: Definitions = {
    ids: new Map(),
    scopes: new Map(),
    agents: new Set(),
    delegatedTo: new Set(),
    groups: new Set(),
  };
  const resources = new Map<string, { api: string; file: string }>();
  const issuers = new Map<string, string>();
  let brokerFile: string | undefined;

  const defineId = (file: string, section: string, id: string, kind: Kind) => {
    const first = defs.ids.get(id);
    if (first) {
      report(
        file,
        [section, id],
        `id "${id}" is already defined as ${article(first.kind)} in ${first.file} ` +
          "(API, agent, task template and approver group ids share one namespace)",
      );
    } else defs.ids.set(id, { kind, file });
  };

  for (const { file, data } of files) {
    if (data.broker) {
      if (brokerFile) report(file, ["broker"], `broker is already defined in ${brokerFile}`);
      else brokerFile = file;
    }
    (data.issuers ?? []).forEach((entry, i) => {
      const first = issuers.get(entry.issuer);
      if (first)
        report(
          file,
          ["issuers", i, "issuer"],
          `issuer "${entry.issuer}" is already listed in ${first}`,
        );
      else issuers.set(entry.issuer, file);
    });
    for (const [id, api] of Object.entries(data.apis ?? {})) {
      defineId(file, "apis", id, "API");
      const first = resources.get(api.resource);
      if (first) {
        report(
          file,
          ["apis", id, "resource"],
          `resource "${api.resource}" is already used by API ${first.api} in ${first.file}`,
        );
      } else resources.set(api.resource, { api: id, file });
      for (const name of Object.keys(api.scopes)) {
        const owner = defs.scopes.get(name);
        if (owner) {
          report(
            file,
            ["apis", id, "scopes", name],
            `scope "${name}" is already defined by API ${owner.api} in ${owner.file}`,
          );
        } else defs.scopes.set(name, { api: id, file });
      }
    }
    for (const [id, agent] of Object.entries(data.agents ?? {})) {
      defineId(file, "agents", id, "agent");
      defs.agents.add(id);
      for (const target of agent.delegate_to) defs.delegatedTo.add(target);
    }
    for (const id of Object.keys(data.tasks ?? {})) defineId(file, "tasks", id, "task template");
    for (const id of Object.keys(data.approvers ?? {})) {
      // `approval: subject` means the user; a group of that name would make it ambiguous.
      if (id === "subject")
        report(
          file,
          ["approvers", id],
          `"subject" is reserved for the user and cannot be a group id`,
        );
      defineId(file, "approvers", id, "approver group");
      defs.groups.add(id);
    }
  }
  return defs;
}

function checkReferences(file: string, data: PolicyFile, defs: Definitions, report: Report): void {
  const scopeExists = (path: Path, list: readonly string[]) =>
    list.forEach((name, i) => {
      if (!defs.scopes.has(name))
        report(file, [...path, i], `unknown scope "${name}": no API defines it`);
    });
  const approvalExists = (path: Path, approval: string | undefined) => {
    if (approval !== undefined && approval !== "subject" && !defs.groups.has(approval)) {
      report(
        file,
        path,
        `unknown approver "${approval}": use "subject" or a group under approvers`,
      );
    }
  };

  for (const [id, api] of Object.entries(data.apis ?? {})) {
    api.default_scopes.forEach((name, i) => {
      if (!Object.hasOwn(api.scopes, name)) {
        report(file, ["apis", id, "default_scopes", i], `"${name}" is not a scope of API ${id}`);
      }
    });
    for (const [name, scope] of Object.entries(api.scopes)) {
      if (typeof scope !== "string")
        approvalExists(["apis", id, "scopes", name, "approval"], scope.approval);
    }
    for (const agent of Object.keys(api.client_ids ?? {})) {
      if (!defs.agents.has(agent))
        report(file, ["apis", id, "client_ids", agent], `unknown agent "${agent}"`);
    }
  }
  for (const [id, agent] of Object.entries(data.agents ?? {})) {
    scopeExists(["agents", id, "scopes"], agent.scopes);
    agent.delegate_to.forEach((target, i) => {
      const path = ["agents", id, "delegate_to", i];
      if (target === id) report(file, path, "an agent cannot delegate to itself");
      else if (!defs.agents.has(target)) report(file, path, `unknown agent "${target}"`);
    });
    // An agent that acts only on delegation tokens, with no one to delegate to it, can never act.
    if (agent.delegated_only && !defs.delegatedTo.has(id)) {
      report(file, ["agents", id, "delegated_only"], "no agent's delegate_to names this agent");
    }
    agent.introspects.forEach((api, i) => {
      if (defs.ids.get(api)?.kind !== "API")
        report(file, ["agents", id, "introspects", i], `unknown API "${api}"`);
    });
  }
  for (const [id, task] of Object.entries(data.tasks ?? {})) {
    scopeExists(["tasks", id, "ceiling"], task.ceiling);
    approvalExists(["tasks", id, "approval"], task.approval);
  }
}

/** default_ttl ≤ max_ttl, and no API may outlive the broker's cap (design §4 rule 2). */
function checkLifetimes(files: readonly ValidFile[], report: Report): void {
  const withBroker = files.find((f) => f.data.broker);
  const broker = withBroker?.data.broker ?? BROKER_DEFAULTS;
  const maxTtl = parseDuration(broker.max_ttl);
  if (withBroker && parseDuration(broker.default_ttl) > maxTtl) {
    report(
      withBroker.file,
      ["broker", "default_ttl"],
      `${broker.default_ttl} is longer than broker.max_ttl ${broker.max_ttl}`,
    );
  }
  for (const { file, data } of files) {
    for (const [id, api] of Object.entries(data.apis ?? {})) {
      if (api.max_ttl !== undefined && parseDuration(api.max_ttl) > maxTtl) {
        report(
          file,
          ["apis", id, "max_ttl"],
          `${api.max_ttl} is longer than broker.max_ttl ${broker.max_ttl}`,
        );
      }
    }
  }
}

const article = (kind: Kind) =>
  kind === "API" || kind === "agent" || kind === "approver group" ? `an ${kind}` : `a ${kind}`;
