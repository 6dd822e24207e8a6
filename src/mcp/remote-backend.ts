/**
 * The tools' backend as a client of a running broker (`baton mcp --broker URL`): the same
 * calls as the core backend, made over the broker's OAuth endpoints with the agent's own
 * client credentials. Refusals come back as the broker sent them.
 *
 * @module mcp/remote-backend
 */

import { BatonError, type ErrorCode, storeUnavailable } from "../errors.js";
import type { SessionView } from "../exchange/broker.js";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../tokens/token-types.js";
import type { ApprovalView, ExchangeOutput, TaskView, ToolBackend } from "./backend.js";

export interface RemoteBackendOptions {
  /** The broker's issuer URL. */
  readonly broker: string;
  readonly agentId: string;
  readonly clientSecret: string;
  readonly subjectToken: string;
  /** Per-call deadline (ms): a dead broker gives a quick refusal, never a hung tool call. */
  readonly timeoutMs?: number;
}

export function remoteBackend(options: RemoteBackendOptions): ToolBackend {
  // RFC 6749 §2.3.1: form-urlencode id and secret before base64.
  const basic = `Basic ${Buffer.from(`${formEncode(options.agentId)}:${formEncode(options.clientSecret)}`).toString("base64")}`;

  async function post(path: string, form: Record<string, string | undefined>): Promise<unknown> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(form))
      if (value !== undefined) body.append(name, value);
    let response: Response;
    try {
      response = await fetch(`${options.broker}${path}`, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (cause) {
      throw storeUnavailable(cause);
    }
    const text = await response.text();
    const json = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    if (!response.ok) {
      const { error, error_description, ...rest } = json;
      // The body's other members travel on: `approval_id` and its friends with
      // `authorization_pending` tell the agent which approval to wait for (rule 6).
      const extra: Record<string, string | number> = {};
      for (const [name, value] of Object.entries(rest)) {
        if (typeof value === "string" || typeof value === "number") extra[name] = value;
      }
      throw new BatonError(
        (typeof error === "string" ? error : "server_error") as ErrorCode,
        response.status,
        typeof error_description === "string"
          ? error_description
          : "The broker refused the request",
        "remote",
        { extra },
      );
    }
    return json;
  }

  return {
    async describe(taskId) {
      return (await post("/whoami", {
        subject_token: options.subjectToken,
        subject_token_type: TOKEN_TYPE.jwt,
        task_id: taskId,
      })) as SessionView;
    },
    async exchange(input) {
      const isUri = input.target.includes("://");
      const r = (await post("/token", {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: input.subjectToken ?? options.subjectToken,
        subject_token_type: TOKEN_TYPE.jwt,
        requested_token_type: input.kind === "delegation" ? TOKEN_TYPE.jwt : TOKEN_TYPE.accessToken,
        [isUri ? "resource" : "audience"]: input.target,
        scope: input.scopes.join(" "),
        ttl_seconds: input.ttlSeconds?.toString(),
        reason: input.reason,
        task_id: input.taskId,
        approval_id: input.approvalId,
      })) as Record<string, string | number>;
      const txn = taskOf(String(r.access_token));
      return {
        token: r.access_token,
        issuedTokenType: r.issued_token_type,
        tokenType: r.token_type,
        expiresIn: r.expires_in,
        scopes: String(r.scope).split(" "),
        ...(txn === undefined ? {} : { taskId: txn }),
      } as ExchangeOutput;
    },
    async revoke(token) {
      // RFC 7009 §2.2: /revoke answers 200 with nothing whatever the token was, so it cannot
      // say whether there was anything to revoke. Introspection can (RFC 7662): the broker
      // says `active: true` to this agent only for a live token it holds, is in the chain of,
      // or is the delegate of, the same parties it lets revoke. /revoke is still asked every
      // time, so the broker alone decides, and its refusal (unauthorized_client) is passed on.
      const { active } = (await post("/introspect", { token })) as { active?: unknown };
      await post("/revoke", { token });
      return active === true;
    },
    async startTask(input) {
      return (await post("/tasks", {
        subject_token: options.subjectToken,
        subject_token_type: TOKEN_TYPE.jwt,
        purpose: input.purpose,
        scope: input.scopes?.join(" "),
        template: input.template,
        ttl_seconds: input.ttlSeconds?.toString(),
        max_tokens: input.maxTokens?.toString(),
      })) as TaskView;
    },
    async approvalStatus(approvalId) {
      return (await post(
        `/approvals/${encodeURIComponent(approvalId)}/status`,
        {},
      )) as ApprovalView;
    },
    async endTask(taskId) {
      await post(`/tasks/${encodeURIComponent(taskId)}/end`, {
        subject_token: options.subjectToken,
        subject_token_type: TOKEN_TYPE.jwt,
      });
    },
  };
}

/** The `txn` of a token the broker just issued over TLS to us: read for display, not trusted. */
function taskOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(
      Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"),
    );
    return typeof payload.txn === "string" ? payload.txn : undefined;
  } catch {
    return undefined;
  }
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}
