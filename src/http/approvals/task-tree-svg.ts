/**
 * A task's delegation tree as a picture (issue 8): server-rendered SVG, no script (the approval
 * page's CSP allows none), every text escaped. Left to right: the task, then each agent as a
 * box holding the tokens it was issued (kind, audience, scopes, expiry), and from each
 * delegation token an arrow to the sub-agent's box. Revoked and expired tokens are greyed.
 *
 * SVG cannot measure text, so sizes come from character counts; long text is cut with an
 * ellipsis and shown whole in the element's `<title>` (a tooltip).
 *
 * @module http/approvals/task-tree-svg
 */

import { html } from "hono/html";
import type { TaskTree, TokenNode } from "../../audit/task-tree.js";
import type { Html } from "./html.js";

const MARGIN = 16;
const TASK_W = 240;
const GAP = 56;
const PAD = 12;
const CARD_W = 232;
const GROUP_W = CARD_W + 2 * PAD;
const HEADER_H = 40;
const ROW_GAP = 12;
const LINE = 17;
/** Monospace at 12px is 7.2px a character; proportional 13px text is taken as 7.4. */
const MONO_CHARS = Math.floor((CARD_W - 2 * PAD) / 7.2);
const TEXT_CHARS = Math.floor((CARD_W - 2 * PAD) / 7.4);

const FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif";
const MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace";

const COLOURS = {
  ink: "#1d2330",
  muted: "#5b6474",
  line: "#9aa3b2",
  group: "#f5f6f8",
  groupStroke: "#dde1e8",
  card: "#ffffff",
  greyCard: "#eceef2",
  greyStroke: "#c9ced6",
  greyInk: "#8a93a3",
  active: "#1f7a3d",
  revoked: "#b3261e",
  access: { stripe: "#2563eb", badge: "#e8f0fe", text: "#1a4fb5", stroke: "#b6cdfb" },
  delegation: { stripe: "#7c3aed", badge: "#f1e8fe", text: "#6b2fc0", stroke: "#d4c2f7" },
} as const;

/** Cut to `max` characters, with an ellipsis when cut. */
const cut = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;

/** "12:05:30 UTC". */
const clock = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(11, 19)} UTC`;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

interface Drawn {
  readonly svg: Html[];
  readonly height: number;
  readonly width: number;
}

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
<defs>${arrowHead("arrow", COLOURS.line)}${arrowHead("arrow-grey", COLOURS.greyStroke)}</defs>
${parts}
</svg>`;
}

function arrowHead(id: string, colour: string): Html {
  return html`<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="${colour}"/></marker>`;
}

/** A curved arrow from the right side of one box to the left side of another. */
function edge(x1: number, y1: number, x2: number, y2: number, grey: boolean): Html {
  const dx = (x2 - x1) / 2;
  const colour = grey ? COLOURS.greyStroke : COLOURS.line;
  return html`<path class="edge${grey ? " inactive" : ""}" d="M${x1} ${y1} C${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2 - 2} ${y2}" fill="none" stroke="${colour}" stroke-width="1.5"${grey ? html` stroke-dasharray="5 4"` : ""} marker-end="url(#${grey ? "arrow-grey" : "arrow"})"/>`;
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

/** A small rounded label; `anchor` end puts its right edge at `x`. */
function pill(
  x: number,
  baseline: number,
  text: string,
  fill: string,
  ink: string,
  anchor: "start" | "end" = "start",
): Html {
  const w = text.length * 6.6 + 14;
  const left = anchor === "end" ? x - w : x;
  return html`<rect x="${left}" y="${baseline - 12}" width="${w}" height="17" rx="8.5" fill="${fill}"/><text x="${left + w / 2}" y="${baseline}" text-anchor="middle" fill="${ink}" font-size="10.5" font-weight="700" letter-spacing="0.6">${text.toUpperCase()}</text>`;
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
<rect x="${x}" y="${y}" width="${GROUP_W}" height="${box}" rx="10" fill="${COLOURS.group}" stroke="${COLOURS.groupStroke}"/>
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

const CAUSES = {
  token: "",
  ancestor: "cascaded from its parent",
  task: "the task was ended",
} as const;

/** One token: kind and audience, scopes, status and expiry. Greyed unless active. */
function tokenCard(token: TokenNode, x: number, y: number, now: number): Drawn {
  const live = token.status === "active";
  const look = COLOURS[token.kind];
  const ink = live ? COLOURS.ink : COLOURS.greyInk;
  const lines: Html[] = [];
  let cy = y + 24;
  const badge = token.kind === "access" ? "access" : "delegation";
  lines.push(
    pill(x + PAD + 2, cy, badge, live ? look.badge : "#dfe2e8", live ? look.text : COLOURS.greyInk),
  );
  const badgeW = badge.length * 6.6 + 14;
  const room = Math.floor((CARD_W - 2 * PAD - badgeW - 12) / 7.6);
  lines.push(
    html`<text class="audience" x="${x + PAD + badgeW + 10}" y="${cy}" fill="${ink}" font-weight="600">→ ${cut(token.audience, room - 2)}</text>`,
  );
  cy += 8;
  for (const scope of token.scopes) {
    cy += LINE;
    lines.push(
      html`<text class="scope" x="${x + PAD + 2}" y="${cy}" fill="${ink}" font-family="${MONO}" font-size="12">${cut(scope, MONO_CHARS)}</text>`,
    );
  }
  cy += LINE + 6;
  const [status, colour] =
    token.status === "revoked"
      ? [
          `revoked${token.revoked?.at === undefined ? "" : ` ${clock(token.revoked.at)}`}`,
          COLOURS.revoked,
        ]
      : token.status === "expired"
        ? [`expired ${clock(token.exp)}`, COLOURS.greyInk]
        : [`active · until ${clock(token.exp)}`, COLOURS.active];
  lines.push(
    html`<circle cx="${x + PAD + 5}" cy="${cy - 4.5}" r="4" fill="${colour}"/>`,
    html`<text class="status" x="${x + PAD + 15}" y="${cy}" fill="${colour}" font-size="12" font-weight="600">${status}</text>`,
  );
  const cause = token.status === "revoked" ? CAUSES[token.revoked?.cause ?? "token"] : "";
  if (cause !== "") {
    cy += LINE - 2;
    lines.push(
      html`<text x="${x + PAD + 15}" y="${cy}" fill="${COLOURS.greyInk}" font-size="11.5" font-style="italic">${cut(cause, TEXT_CHARS)}</text>`,
    );
  }
  const height = cy - y + PAD;
  const tip = [
    `${token.kind} token ${token.jti}`,
    `issued to ${token.agent} (chain ${token.chain.join(" ← ") || "none"})`,
    `for ${token.audience}: ${token.scopes.join(" ")}`,
    `expires ${iso(token.exp)}${live && token.exp > now ? ` (in ${Math.ceil((token.exp - now) / 60)} min)` : ""}`,
    `status ${token.status}${cause ? `: ${cause}` : ""}`,
  ].join("\n");
  return {
    svg: [
      html`<g class="token ${token.kind} ${token.status}" data-jti="${token.jti}" data-agent="${token.agent}"><title>${tip}</title>
<rect class="card" x="${x}" y="${y}" width="${CARD_W}" height="${height}" rx="8" fill="${live ? COLOURS.card : COLOURS.greyCard}" stroke="${live ? look.stroke : COLOURS.greyStroke}"/>
<rect x="${x}" y="${y + 6}" width="4" height="${height - 12}" rx="2" fill="${live ? look.stripe : COLOURS.greyStroke}"/>
${lines}</g>`,
    ],
    height,
    width: x + CARD_W,
  };
}

/** Word-wraps `text` to lines of at most `width` characters, at most `max` lines. */
function wrap(text: string, width: number, max: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line === "" ? word : `${line} ${word}`;
    if (next.length <= width) line = next;
    else {
      if (line !== "") lines.push(line);
      line = cut(word, width);
    }
  }
  if (line !== "") lines.push(line);
  if (lines.length > max) {
    const kept = lines.slice(0, max);
    kept[max - 1] = cut(`${kept[max - 1]} …`, width);
    return kept;
  }
  return lines.length === 0 ? ["(no purpose given)"] : lines;
}
