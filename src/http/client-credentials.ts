/**
 * Extracts client credentials from a request (RFC 6749 §2.3.1, RFC 7523 §2.2). Using more than
 * one method at once is an error (RFC 6749 §2.3: "MUST NOT use more than one").
 *
 * @module http/client-credentials
 */

import { invalidRequest } from "../errors.js";
import type { ClientCredentials } from "../exchange/broker.js";
import { JWT_BEARER_ASSERTION } from "../tokens/token-types.js";
import { type FormParams, single } from "./form-params.js";

export function clientCredentials(
  params: FormParams,
  authorization: string | undefined,
): ClientCredentials {
  const clientId = single(params, "client_id");
  const secret = single(params, "client_secret");
  const assertion = single(params, "client_assertion");
  const assertionType = single(params, "client_assertion_type");
  const basic = authorization !== undefined && /^basic /i.test(authorization);

  const methods = [basic, secret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (methods > 1)
    throw invalidRequest(
      "Only one client authentication method may be used",
      "client.many_methods",
    );

  if (basic) return fromBasic(authorization as string, clientId);
  if (secret !== undefined) {
    if (clientId === undefined)
      throw invalidRequest('"client_id" parameter is required', "client.id_missing");
    return { method: "client_secret_post", clientId, secret };
  }
  if (assertion !== undefined) {
    if (assertionType !== JWT_BEARER_ASSERTION) {
      throw invalidRequest(
        '"client_assertion_type" must be the jwt-bearer type',
        "client.assertion_type",
      );
    }
    return {
      method: "private_key_jwt",
      assertion,
      ...(clientId === undefined ? {} : { clientId }),
    };
  }
  return { method: "none", ...(clientId === undefined ? {} : { clientId }) };
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64 (so ":" can be in them). */
function fromBasic(header: string, formClientId: string | undefined): ClientCredentials {
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0)
    throw invalidRequest("The Authorization header is malformed", "client.basic_malformed");
  let clientId: string;
  let secret: string;
  try {
    clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
  } catch {
    throw invalidRequest("The Authorization header is malformed", "client.basic_malformed");
  }
  if (formClientId !== undefined && formClientId !== clientId) {
    throw invalidRequest(
      '"client_id" does not match the Authorization header',
      "client.id_mismatch",
    );
  }
  return { method: "client_secret_basic", clientId, secret };
}
