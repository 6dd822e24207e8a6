/**
 * The `act` claim (RFC 8693 §4.1): who acts, for whom, in what order.
 *
 * "The outermost `act` claim represents the current actor while nested `act` claims represent
 * prior actors." A chain is kept as an array, current actor first.
 *
 * @module tokens/act
 */

export interface Act {
  readonly sub: string;
  readonly act?: Act;
}

/** Deepest nesting Baton will read before calling a claim malformed (far above any max_depth). */
const READ_LIMIT = 32;

/**
 * Reads an `act` claim into a chain, current actor first. Returns undefined when the claim is
 * malformed (not an object, a `sub` that is not a non-empty string, or absurdly deep).
 */
export function readActChain(claim: unknown): string[] | undefined {
  const chain: string[] = [];
  let node: unknown = claim;
  while (node !== undefined) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    const { sub, act } = node as { sub?: unknown; act?: unknown };
    if (typeof sub !== "string" || sub.length === 0) return undefined;
    chain.push(sub);
    if (chain.length > READ_LIMIT) return undefined;
    node = act;
  }
  return chain;
}

/** Builds the nested claim for a chain (current actor first); undefined for an empty chain. */
export function actClaim(chain: readonly string[]): Act | undefined {
  let act: Act | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const sub = chain[i] as string;
    act = act ? { sub, act } : { sub };
  }
  return act;
}
