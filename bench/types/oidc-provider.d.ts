/**
 * The part of oidc-provider 9 the bench peer uses (the package ships no types).
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface GrantContext {
    oidc: {
      client: { clientId: string };
      params: Record<string, string | undefined>;
    };
    body: unknown;
  }

  export interface AccessTokenLike {
    save(): Promise<string>;
    readonly expiration: number;
    scope?: string;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    registerGrantType(
      name: string,
      handler: (ctx: GrantContext) => Promise<void>,
      params?: readonly string[],
      dupes?: readonly string[],
    ): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: any[]) => void): this;
    readonly AccessToken: new (
      fields: Record<string, unknown>,
    ) => AccessTokenLike;
    readonly ResourceServer: new (
      identifier: string,
      info: Record<string, unknown>,
    ) => object;
  }

  export const errors: {
    InvalidGrant: new (description?: string) => Error;
    InvalidRequest: new (description?: string) => Error;
    InvalidScope: new (description?: string) => Error;
    InvalidTarget: new (description?: string) => Error;
  };

  export default Provider;
}
