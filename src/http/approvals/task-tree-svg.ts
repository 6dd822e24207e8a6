/**
 * A task's delegation tree as a picture (issue 8): server-rendered SVG, no script (the approval
 * page's CSP allows none), every text escaped. Left to right: the task, then each agent as a
 * box holding the tokens it was issued (kind, audience, scopes, expiry), and from each
 * delegation token an arrow to the sub-agent's box. Revoked and expired tokens are greyed.
 *
 * SVG cannot measure text, so sizes come from character counts; long text is cut with an
 * ellipsis and shown whole in the element's `<title>` (a tooltip).
 *
 * The look (sizes, colours, text fitting) is in task-tree-look.ts, and each token's card in
 * task-tree-token-card.ts; this module lays out the task, the agents and their sub-agents.
 *
 * @module http/approvals/task-tree-svg
 */

import { html } from "hono/html";
import type { TaskTree, TokenNode } from "../../audit/task-tree.js";
import type { Html } from "./html.js";
import {
  arrowHead,
  CARD_W,
  COLOURS,
  clock,
  cut,
  type Drawn,
  edge,
  FONT,
  GAP,
  GROUP_W,
  HEADER_H,
  iso,
  LINE,
  MARGIN,
  MONO,
  PAD,
  pill,
  ROW_GAP,
  TASK_W,
  wrap,
} from "./task-tree-look.js";
import { tokenCard } from "./task-tree-token-card.js";

/** The SVG of a task's tree, at `now` (expiry is relative to it). */
export function taskTreeSvg(tree: TaskTree, now: number): Html {
  const task = taskBox(tree, MARGIN, MARGIN);
  const parts: Html[] = [...task.svg];
  let y = MARGIN;
  let width = MARGIN + TASK_W;
  const x = MARGIN + TASK_W + GAP;
  const groups = byAgent(tree.roots);
  if (groups.length === 0) groups.push({ agent: tree.task.agent, tokens: [] });
  for (const { agent, tokens } of groups) {
    const group = agentGroup(agent, tokens, x, y, now);
    const dimmed = tokens.length > 0 && tokens.every((t) => t.status !== "active");
    parts.push(edge(MARGIN + TASK_W, MARGIN + 28, x, y + HEADER_H / 2, dimmed), ...group.svg);
    y += group.height + GAP / 2;
    width = Math.max(width, group.width);
  }
  const height = Math.max(y - GAP / 2, MARGIN + task.height) + MARGIN;
  const total = width + MARGIN;
  const title = `Delegation tree of task ${tree.task.id}`;
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="task-tree" role="img" aria-labelledby="tree-title" width="${total}" height="${height}" viewBox="0 0 ${total} ${height}" font-family="${FONT}" font-size="13">
<title id="tree-title">${title}</title>
<defs>${arrowHead("arrow", COLOURS.line)}${arrowHead("arrow-grey", COLOURS.grey.stroke)}</defs>
${parts}
</svg>`;
}
/** Root tokens grouped by the agent they were issued to, in order of first issue. */
function byAgent(nodes: readonly TokenNode[]): { agent: string; tokens: TokenNode[] }[] {
  const groups = new Map<string, TokenNode[]>();
  for (const n of nodes) groups.set(n.agent, [...(groups.get(n.agent) ?? []), n]);
  return [...groups].map(([agent, tokens]) => ({ agent, tokens }));
}

function taskBox(tree: TaskTree, x: number, y: number): Drawn {
  const { task } = tree;
  const purpose = wrap(task.purpose, Math.floor((TASK_W - 2 * PAD) / 7.4), 4);
  const ceiling = task.ceiling.map((s) => cut(s, Math.floor((TASK_W - 2 * PAD) / 7.2)));
  const open = task.status === "open";
  const lines: Html[] = [];
  let cy = y + 26;
  lines.push(
    html`<text x="${x + PAD}" y="${cy}" fill="#aab3c2" font-size="11" font-weight="600" letter-spacing="1">TASK</text>`,
    pill(x + TASK_W - PAD, cy, task.status, open ? "#1f7a3d" : "#5b6474", "#ffffff", "end"),
  );
  cy += 22;
  for (const l of purpose) {
    lines.push(
      html`<text x="${x + PAD}" y="${cy}" fill="#ffffff" font-weight="600" font-size="14">${l}</text>`,
    );
    cy += 19;
  }
  cy += 4;
  lines.push(
    html`<text x="${x + PAD}" y="${cy}" fill="#cfd5df">for ${cut(task.subject, 26)}</text>`,
  );
  cy += LINE + 6;
  lines.push(
    html`<text x="${x + PAD}" y="${cy}" fill="#aab3c2" font-size="11" font-weight="600" letter-spacing="1">CEILING</text>`,
  );
  for (const s of ceiling) {
    cy += LINE;
    lines.push(
      html`<text x="${x + PAD}" y="${cy}" fill="#ffffff" font-family="${MONO}" font-size="12">${s}</text>`,
    );
  }
  cy += LINE + 6;
  const deadline =
    task.status === "ended" && task.endedAt !== undefined
      ? `ended ${clock(task.endedAt)}`
      : `deadline ${clock(task.deadline)}`;
  lines.push(html`<text x="${x + PAD}" y="${cy}" fill="#cfd5df">${deadline}</text>`);
  cy += LINE;
  lines.push(
    html`<text x="${x + PAD}" y="${cy}" fill="#cfd5df">${tree.tokens} of ${task.maxTokens} tokens used</text>`,
  );
  const height = cy - y + PAD + 2;
  const tip = `Task ${task.id}: ${task.purpose} (${task.status}, deadline ${iso(task.deadline)})`;
  return {
    svg: [
      html`<g class="task ${task.status}"><title>${tip}</title>
<rect x="${x}" y="${y}" width="${TASK_W}" height="${height}" rx="10" fill="${COLOURS.ink}"/>
${lines}</g>`,
    ],
    height,
    width: x + TASK_W,
  };
}

/** An agent's box: its name, then its tokens, each with its sub-agent's box to the right. */
function agentGroup(
  agent: string,
  tokens: readonly TokenNode[],
  x: number,
  y: number,
  now: number,
): Drawn {
  const inner: Html[] = [];
  let cy = y + HEADER_H;
  let width = x + GROUP_W;
  /** Bottom of the last card: the box ends there, though a sub-agent beside it may reach lower. */
  let own = cy;
  for (const token of tokens) {
    const card = tokenCard(token, x + PAD, cy, now);
    inner.push(...card.svg);
    own = cy + card.height;
    let rowHeight = card.height;
    const subAgent = token.kind === "delegation" ? token.audience : token.children[0]?.agent;
    if (subAgent !== undefined) {
      const sx = x + GROUP_W + GAP;
      const sub = agentGroup(subAgent, token.children, sx, cy, now);
      inner.push(
        edge(x + PAD + CARD_W, cy + 22, sx, cy + HEADER_H / 2, token.status !== "active"),
        ...sub.svg,
      );
      rowHeight = Math.max(rowHeight, sub.height);
      width = Math.max(width, sub.width);
    }
    cy += rowHeight + ROW_GAP;
  }
  if (tokens.length === 0) {
    inner.push(
      html`<text x="${x + PAD}" y="${cy + 14}" fill="${COLOURS.muted}" font-style="italic">no tokens yet</text>`,
    );
    cy += 24 + ROW_GAP;
    own = cy - ROW_GAP;
  }
  // The box spans its own column only; rows grow with the sub-agents drawn beside them.
  const box = own + PAD - y;
  const height = Math.max(box, cy - ROW_GAP - y);
  const initial = (agent[0] ?? "?").toUpperCase();
  return {
    svg: [
      html`<g class="agent" data-agent="${agent}"><title>agent ${agent}</title>
<rect x="${x}" y="${y}" width="${GROUP_W}" height="${box}" rx="10" fill="${COLOURS.group.fill}" stroke="${COLOURS.group.stroke}"/>
<circle cx="${x + PAD + 10}" cy="${y + HEADER_H / 2}" r="11" fill="${COLOURS.ink}"/>
<text x="${x + PAD + 10}" y="${y + HEADER_H / 2 + 4.5}" text-anchor="middle" fill="#ffffff" font-size="12" font-weight="700">${initial}</text>
<text class="agent-name" x="${x + PAD + 28}" y="${y + HEADER_H / 2 + 5}" fill="${COLOURS.ink}" font-size="14" font-weight="700">${cut(agent, 24)}</text>
</g>`,
      ...inner,
    ],
    height,
    width,
  };
}
