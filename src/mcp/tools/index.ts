/**
 * The tools, registered from one list (design §7).
 *
 * @module mcp/tools/index
 */

import { approvalStatus } from "./approval-status.js";
import { delegate } from "./delegate.js";
import { endTask } from "./end-task.js";
import { listApis } from "./list-apis.js";
import { requestToken } from "./request-token.js";
import { revokeToken } from "./revoke-token.js";
import { startTask } from "./start-task.js";
import type { Tool } from "./tool.js";
import { whoami } from "./whoami.js";

export const TOOLS: readonly Tool[] = [
  listApis,
  whoami,
  requestToken,
  delegate,
  startTask,
  endTask,
  revokeToken,
  approvalStatus,
];
