/**
 * `list_apis`: the APIs section of `whoami` alone, kept for clients that call it.
 *
 * @module mcp/tools/list-apis
 */

import { z } from "zod";
import { ApisSchema, apisResult, DiscoveryInput, describeFor } from "./discovery.js";
import { defineTool, READ_ONLY } from "./tool.js";

export const listApis = defineTool({
  name: "list_apis",
  title: "List your APIs",
  description:
    "The apis part of whoami (prefer whoami): the APIs and scopes you may ask for now, which are " +
    "elevated, their ttl and default scopes.",
  inputSchema: DiscoveryInput,
  outputSchema: z.object({ agent: z.string(), subject: z.string(), apis: ApisSchema }),
  annotations: READ_ONLY,
  async run(session, input) {
    const view = await describeFor(session, input);
    return { agent: view.agent, subject: view.subject, apis: apisResult(view.apis) };
  },
  refusalContext: (input) => ({ ownSubjectToken: input.subject_token !== undefined }),
});
