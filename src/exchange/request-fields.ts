/**
 * Facts of the core's request types that both doors check at their edge: the shape of a task
 * id and an approval id, the longest `reason` kept, the longest token read. The HTTP forms
 * (http/token-request.ts, http/task-forms.ts) and the MCP tools (mcp/tools/schemas.ts) build
 * their schemas from these, so that a value one door accepts the other accepts too.
 *
 * @module exchange/request-fields
 */

import { z } from "zod";

/** The longest token read (RFC 7519 sets none; ours are a few hundred bytes). */
export { MAX_TOKEN_LENGTH } from "../tokens/verify.js";

/** Longest `reason` kept: a sentence or two for the audit log and the approver. */
export const MAX_REASON_LENGTH = 500;

/** A task id as Baton makes them (`tsk_` + 22 base64url characters), loosely bounded. */
export const TaskIdField = z
  .string()
  .regex(/^tsk_[A-Za-z0-9_-]{1,64}$/, '"task_id" is not a task id');

/** An approval id as Baton makes them (`apr_` + 22 base64url characters), loosely bounded. */
export const ApprovalIdField = z
  .string()
  .regex(/^apr_[A-Za-z0-9_-]{1,64}$/, '"approval_id" is not an approval id');
