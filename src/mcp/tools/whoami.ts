/**
 * `whoami`: the one discovery answer (issue 16): whom the agent acts for and through which
 * chain, its delegation and task, and everything it may ask for next.
 *
 * @module mcp/tools/whoami
 */

import { DiscoveryInput, describeFor, WhoamiSchema, whoamiResult } from "./discovery.js";
import { defineTool, READ_ONLY } from "./tool.js";

export const whoami = defineTool({
  name: "whoami",
  title: "What may I do",
  description:
    "All you need to plan: whom you act for, your chain, delegation and task (ceiling, deadline, tokens " +
    "left), the APIs and scopes you may ask for, task templates, whom you may delegate which scopes, the " +
    "defaults. Call it first and after a refusal; a sub-agent passes its subject_token.",
  inputSchema: DiscoveryInput,
  outputSchema: WhoamiSchema,
  annotations: READ_ONLY,
  async run(session, input) {
    return whoamiResult(await describeFor(session, input));
  },
  refusalContext: (input) => ({ ownSubjectToken: input.subject_token !== undefined }),
});
