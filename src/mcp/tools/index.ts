/**
 * The tools, registered from one list (design §7). Task and approval tools join it with
 * their issues.
 *
 * @module mcp/tools/index
 */

import { delegate } from "./delegate.js";
import { listApis } from "./list-apis.js";
import { requestToken } from "./request-token.js";
import { revokeToken } from "./revoke-token.js";
import type { Tool } from "./tool.js";
import { whoami } from "./whoami.js";

export const TOOLS: readonly Tool[] = [listApis, whoami, requestToken, delegate, revokeToken];
