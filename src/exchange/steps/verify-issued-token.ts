/**
 * Recognises and verifies a token Baton itself issued (an access token, a delegation token, an
 * ID-JAG, or a development token), for introspection and revocation.
 *
 * @module exchange/steps/verify-issued-token
 */

import { BatonError } from "../../errors.js";
import {
  ACCESS_TOKEN_TYP,
  DELEGATION_TOKEN_TYP,
  DEV_TOKEN_TYP,
  ID_JAG_TYP,
} from "../../tokens/token-types.js";
import {
  type Claims,
  MAX_TOKEN_LENGTH,
  peekIssuer,
  peekTyp,
  verifyBrokerJwt,
} from "../../tokens/verify.js";
import { devIssuerOf } from "../../urls.js";
import type { ExchangeDeps } from "../types.js";
import { devRoot, legacyAncestry, readAncestry } from "./lineage.js";

export type OwnTokenKind = "access" | "delegation" | "id_jag" | "dev";

export interface OwnToken {
  readonly kind: OwnTokenKind;
  readonly payload: Claims;
  /** Its own lineage id: what a revocation marks. */
  readonly id: string;
  /** Its ancestors' lineage ids and its own: revoked if any of these is. */
  readonly lineage: readonly string[];
}

const KIND_BY_TYP: ReadonlyMap<string, OwnTokenKind> = new Map([
  [ACCESS_TOKEN_TYP, "access"],
  [DELEGATION_TOKEN_TYP, "delegation"],
  [ID_JAG_TYP, "id_jag"],
]);

/**
 * The verified token and its lineage, or undefined when it is not a valid token of ours
 * (bad signature, expired, unknown, malformed, or issued before the `lineage` claim and its
 * record gone). Store failures still throw:
 * "unknown" must never stand in for "could not look".
 */
export async function verifyOwnToken(
  deps: ExchangeDeps,
  token: string,
  now: number,
): Promise<OwnToken | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const iss = peekIssuer(token, "token");
    if (iss === devIssuerOf(deps.issuer) && deps.active().policy.broker.devIssuer) {
      const payload = await verify(deps, token, iss, DEV_TOKEN_TYP, now);
      const id = devRoot(payload.jti as string);
      return { kind: "dev", payload, id, lineage: [id] };
    }
    if (iss !== deps.issuer) return undefined;
    const typ = peekTyp(token) ?? "";
    const kind = KIND_BY_TYP.get(typ);
    if (!kind) return undefined;
    const payload = await verify(deps, token, iss, typ, now);
    const jti = payload.jti as string;
    const ancestry = readAncestry(payload) ?? (await legacyAncestry(deps.store, jti));
    if (!ancestry) return undefined;
    return { kind, payload, id: jti, lineage: [...ancestry.lineage, jti] };
  } catch (err) {
    if (err instanceof BatonError && err.code === "temporarily_unavailable") throw err;
    if (err instanceof BatonError && err.code === "invalid_request") return undefined;
    throw err;
  }
}

function verify(deps: ExchangeDeps, token: string, issuer: string, typ: string, now: number) {
  // `aud` differs per kind (an API, the broker, an outside authorization server): the
  // signature and `iss` pin it to us.
  return verifyBrokerJwt(
    token,
    deps.keys,
    {
      issuer,
      typ,
      requiredClaims: ["sub", "exp", "jti"],
      now,
      iatTolerance: deps.active().policy.broker.clockSkew,
    },
    "token",
  );
}
