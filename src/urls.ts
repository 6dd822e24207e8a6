/**
 * Every URL path Baton serves, and every URL it derives from its issuer, in one place: the
 * doors route by these, the core names audiences and links by these, so that the two cannot
 * drift apart.
 *
 * @module urls
 */

/** Paths of the endpoints, relative to the issuer. */
export const PATHS = {
  metadata: "/.well-known/oauth-authorization-server",
  jwks: "/.well-known/jwks.json",
  token: "/token",
  introspect: "/introspect",
  revoke: "/revoke",
  whoami: "/whoami",
  tasks: "/tasks",
  approvals: "/approvals",
  mcp: "/mcp",
  /** RFC 9728 §3.1: the well-known path with the resource's path appended. */
  resourceMetadata: "/.well-known/oauth-protected-resource/mcp",
  resourceMetadataRoot: "/.well-known/oauth-protected-resource",
} as const;

/** The `iss` of development-issuer tokens: distinct from the broker's own. */
export const devIssuerOf = (issuer: string) => `${issuer}/dev`;

/**
 * The resource URI of Baton's own MCP endpoint (RFC 9728 `resource`). A user's token issued
 * for it is a token for Baton too: usable as a subject token, and as the bearer at `/mcp`.
 */
export const mcpResourceOf = (issuer: string) => `${issuer}${PATHS.mcp}`;

/**
 * The audience of a user's token for the approval page (`/approvals` sign-in): a person's own
 * credential, never one a user hands to an agent, so never accepted as a subject token.
 */
export const approvalsAudienceOf = (issuer: string) => `${issuer}${PATHS.approvals}`;

/** The approval page of one approval, where a human decides it. */
export const approvalUri = (issuer: string, id: string) => `${issuer}${PATHS.approvals}/${id}`;
