/**
 * The policy `baton policy init` writes (design §3.1: "a starter policy to edit"): the
 * smallest policy that does something real on a laptop. One API with a read scope and an
 * elevated write scope, one agent that may hold both, the API's own client for introspection,
 * and the development issuer so that `baton dev-token` stands in for an identity provider.
 * It passes `baton policy check` without a warning (test/cli/policy-init.test.ts).
 *
 * @module cli/starter-policy
 */

/** The ids the starter policy defines; `policy init` prints their secrets under these names. */
export const STARTER = {
  api: "notes",
  agent: "assistant",
  /** The notes API's own client: ids share one namespace, so not `notes`. */
  apiClient: "notes-api",
} as const;

/** Only SHA-256 hashes go in: a policy file is read by many, a secret by its owner only. */
export interface StarterHashes {
  readonly agent: string;
  readonly apiClient: string;
}

export function starterPolicy(hashes: StarterHashes): string {
  return `# yaml-language-server: $schema=./policy.schema.json
#
# A starter Baton policy, written by \`baton policy init\`: rename the API, its scopes and the
# agent after your own, then run \`baton policy check\`. Every field is described in the
# policies/README.md of Baton's repository. Every *.yaml file of this directory is read.

broker:
  default_ttl: 5m # lifetime of a token whose request names none
  max_ttl: 1h # no token lives longer, whatever is asked
  # Development only: \`baton dev-token --user alice@example.com\` mints a user's token without
  # an identity provider. In production, set it to false and name your provider below.
  dev_issuer: true

# issuers:
#   - issuer: https://idp.example.com
#     jwks_uri: https://idp.example.com/.well-known/jwks.json
#     audience: http://127.0.0.1:8787 # the broker's --issuer
#     algorithms: [RS256]

apis:
  ${STARTER.api}:
    # The API's URL: every token for it carries it as \`aud\`, and the API accepts no other.
    resource: https://notes.example.com
    description: The user's notes
    max_ttl: 15m
    default_scopes: [notes.read] # what a request that names no scope gets
    scopes:
      notes.read: Read the user's notes
      notes.write:
        description: Create, change and delete the user's notes
        approval: subject # elevated: the user approves each grant first

agents:
  ${STARTER.agent}:
    description: Reads and edits notes for the user
    # The SHA-256 of its client secret, never the secret: \`baton policy init\` printed that once.
    # A new one: openssl rand -base64 32, then printf %s "$SECRET" | sha256sum
    secret_sha256: ${hashes.agent}
    scopes: [notes.read, notes.write]

  # Not an agent: the notes API's own client, with which it asks the broker whether a token is
  # still active (RFC 7662 introspection). \`disabled\` means it can never get a token itself;
  # \`introspects\` names the API whose tokens it may read in full.
  ${STARTER.apiClient}:
    description: The notes API; introspects the tokens it receives, never exchanges
    secret_sha256: ${hashes.apiClient}
    disabled: true
    introspects: [${STARTER.api}]
`;
}
