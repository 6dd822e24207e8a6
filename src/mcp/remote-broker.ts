/**
 * A `Broker` over HTTP: the core's eight operations asked of a running broker, through its
 * OAuth endpoints, with one agent's own client credentials (`baton mcp --broker URL`). The
 * tools run on it exactly as on the core in this process (mcp/embedded-session.ts). Refusals come
 * back as the broker sent them, wire code, description and extra members included.
 *
 * The caller of each operation is the agent whose credentials this broker was built with:
 * the remote broker authenticates it itself, so the `caller` argument names no one here.
 *
 * @module mcp/remote-broker
 */

import { type BatonError, invalidRequest, remoteRefusal, storeUnavailable } from "../errors.js";
import type {
  ApprovalView,
  Broker,
  DescribeRequest,
  ExchangeResult,
  IntrospectionResponse,
  SessionView,
  TaskView,
  TokenExchangeRequest,
} from "../exchange/broker.js";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from "../tokens/token-types.js";
import { outsideRoutes } from "./remote-outside.js";

export interface RemoteBrokerOptions {
  /** The broker's issuer URL. */
  readonly broker: string;
  readonly agentId: string;
  readonly clientSecret: string;
  /** Per-call deadline (ms): a dead broker gives a quick refusal, never a hung tool call. */
  readonly timeoutMs?: number;
}

type Form = Record<string, string | undefined>;

export function remoteBroker(options: RemoteBrokerOptions): Broker {
  const post = poster(options);
  const whoami = ({ subjectToken, subjectTokenType, taskId }: DescribeRequest) =>
    post("/whoami", {
      subject_token: subjectToken,
      subject_token_type: subjectTokenType,
      task_id: taskId,
    }) as Promise<SessionView>;
  const outside = outsideRoutes(({ subjectToken, subjectTokenType }) =>
    whoami({ subjectToken, subjectTokenType }),
  );
  return {
    async exchange(request) {
      const ask = await outside.route(request);
      try {
        const r = (await post("/token", tokenForm(ask))) as Record<string, string | number>;
        return exchangeResult(ask, r);
      } catch (err) {
        outside.forget(request, err);
        throw err;
      }
    },
    async startTask(request) {
      return (await post("/tasks", {
        subject_token: request.subjectToken,
        subject_token_type: request.subjectTokenType,
        purpose: request.purpose,
        scope: request.scopes?.join(" "),
        template: request.template,
        ttl_seconds: request.ttlSeconds?.toString(),
        max_tokens: request.maxTokens?.toString(),
      })) as TaskView;
    },
    async endTask({ taskId, subjectToken, subjectTokenType }) {
      return (await post(`/tasks/${encodeURIComponent(taskId)}/end`, {
        subject_token: subjectToken,
        subject_token_type: subjectTokenType,
      })) as { task_id: string; revoked: true };
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
    async introspect(token) {
      return (await post("/introspect", { token })) as IntrospectionResponse;
    },
    describe: whoami,
    async approvalStatus(approvalId) {
      return (await post(
        `/approvals/${encodeURIComponent(approvalId)}/status`,
        {},
      )) as ApprovalView;
    },
    async decideApproval() {
      // Rule 6: a remote broker cannot be shown who the person is through an agent's
      // credentials; it decides on its approval page or at its CLI only.
      throw invalidRequest(
        "Approvals are decided on the broker's approval page",
        "approval.remote_decision",
      );
    },
  };
}

/** RFC 8693 §2.1, as a form. */
function tokenForm(request: TokenExchangeRequest): Form {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: request.subjectToken,
    subject_token_type: request.subjectTokenType,
    actor_token: request.actorToken,
    actor_token_type: request.actorTokenType,
    requested_token_type: request.requestedTokenType,
    resource: request.resources[0],
    audience: request.audiences[0],
    scope: request.scopes?.join(" "),
    ttl_seconds: request.ttlSeconds?.toString(),
    reason: request.reason,
    task_id: request.taskId,
    approval_id: request.approvalId,
  };
}

const KIND_BY_TYPE: ReadonlyMap<string, ExchangeResult["kind"]> = new Map([
  [TOKEN_TYPE.accessToken, "access"],
  [TOKEN_TYPE.jwt, "delegation"],
  [TOKEN_TYPE.idJag, "id_jag"],
]);

/** RFC 8693 §2.2.1 back into the core's result; what the response lacks, read off the token. */
function exchangeResult(
  request: TokenExchangeRequest,
  r: Record<string, string | number>,
): ExchangeResult {
  const token = String(r.access_token);
  const claims = claimsOf(token);
  const kind = KIND_BY_TYPE.get(String(r.issued_token_type)) ?? "access";
  // An ID-JAG's `aud` is its authorization server; the API is its `resource`.
  const resource = kind === "id_jag" ? claims.resource : kind === "access" ? claims.aud : undefined;
  return {
    token,
    kind,
    issuedTokenType: String(r.issued_token_type),
    tokenType: kind === "access" ? "Bearer" : "N_A",
    expiresIn: Number(r.expires_in),
    scopes: String(r.scope).split(" "),
    audience: request.audiences[0] ?? request.resources[0] ?? "",
    ...(typeof resource === "string" ? { resource } : {}),
    ...(kind === "id_jag" && typeof claims.aud === "string"
      ? { authorizationServer: claims.aud }
      : {}),
    jti: typeof claims.jti === "string" ? claims.jti : "",
    exp: typeof claims.exp === "number" ? claims.exp : 0,
    ...(typeof claims.txn === "string" ? { txn: claims.txn } : {}),
  };
}

/** The claims of a token the broker just issued over TLS to us: read for display, not trusted. */
function claimsOf(token: string): Record<string, unknown> {
  try {
    const payload = JSON.parse(
      Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"),
    );
    return typeof payload === "object" && payload !== null ? payload : {};
  } catch {
    return {};
  }
}

/** POSTs a form with the agent's client_secret_basic credentials; a refusal is thrown as sent. */
function poster(options: RemoteBrokerOptions) {
  // RFC 6749 §2.3.1: form-urlencode id and secret before base64.
  const basic = `Basic ${Buffer.from(`${formEncode(options.agentId)}:${formEncode(options.clientSecret)}`).toString("base64")}`;
  return async (path: string, form: Form): Promise<unknown> => {
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
    if (!response.ok) throw refusalOf(json, response.headers.get("retry-after"));
    return json;
  };
}

/**
 * The refusal as the broker sent it: the HTTP body carries the code, the fixed description and
 * the extra members, never the rule or its facts (rule `remote`): a hint from it falls back to
 * what the code alone says (mcp/hints.ts).
 */
function refusalOf(json: Record<string, unknown>, retryAfter: string | null): BatonError {
  const { error, error_description, ...rest } = json;
  // The body's other members travel on: `approval_id` and its friends with
  // `authorization_pending` tell the agent which approval to wait for (rule 6).
  const extra: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (typeof value === "string" || typeof value === "number") extra[name] = value;
  }
  return remoteRefusal(
    typeof error === "string" ? error : "server_error",
    typeof error_description === "string" ? error_description : "The broker refused the request",
    { extra, headers: retryAfter === null ? {} : { "Retry-After": retryAfter } },
  );
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}
