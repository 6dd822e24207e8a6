/**
 * The look of the task tree picture (task-tree-svg.ts): its sizes, fonts and colours, how text
 * is fitted into boxes (SVG cannot measure text, so by character counts, cut with an
 * ellipsis), and the small marks every box uses (pills, arrows). Kept in one place so the task
 * box, the agent boxes and the token cards stay one consistent drawing.
 *
 * @module http/approvals/task-tree-look
 */

import { html } from "hono/html";
import type { Html } from "./html.js";

export const MARGIN = 16;
export const TASK_W = 240;
export const GAP = 56;
export const PAD = 12;
export const CARD_W = 232;
export const GROUP_W = CARD_W + 2 * PAD;
export const HEADER_H = 40;
export const ROW_GAP = 12;
export const LINE = 17;
/** Monospace at 12px is 7.2px a character; proportional 13px text is taken as 7.4. */
export const MONO_CHARS = Math.floor((CARD_W - 2 * PAD) / 7.2);
export const TEXT_CHARS = Math.floor((CARD_W - 2 * PAD) / 7.4);

export const FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif";
export const MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace";

export const COLOURS = {
  ink: "#1d2330",
  muted: "#5b6474",
  line: "#9aa3b2",
  /** An agent's box. */
  group: { fill: "#f5f6f8", stroke: "#dde1e8" },
  card: "#ffffff",
  /** Whatever is no longer active: cards, strokes and text. */
  grey: { card: "#eceef2", stroke: "#c9ced6", ink: "#8a93a3" },
  /** A token's status line. */
  status: { active: "#1f7a3d", revoked: "#b3261e" },
  access: { stripe: "#2563eb", badge: "#e8f0fe", text: "#1a4fb5", stroke: "#b6cdfb" },
  delegation: { stripe: "#7c3aed", badge: "#f1e8fe", text: "#6b2fc0", stroke: "#d4c2f7" },
  /** An ID-JAG for an outside authorization server (design §3.4). */
  id_jag: { stripe: "#0f766e", badge: "#e0f5f2", text: "#0b5e57", stroke: "#a7ddd5" },
} as const;

/** Cut to `max` characters, with an ellipsis when cut. */
export const cut = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;

/** "12:05:30 UTC". */
export const clock = (seconds: number) =>
  `${new Date(seconds * 1000).toISOString().slice(11, 19)} UTC`;
export const iso = (seconds: number) =>
  new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

export interface Drawn {
  readonly svg: Html[];
  readonly height: number;
  readonly width: number;
}

export function arrowHead(id: string, colour: string): Html {
  return html`<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="${colour}"/></marker>`;
}

/** A curved arrow from the right side of one box to the left side of another. */
export function edge(x1: number, y1: number, x2: number, y2: number, grey: boolean): Html {
  const dx = (x2 - x1) / 2;
  const colour = grey ? COLOURS.grey.stroke : COLOURS.line;
  return html`<path class="edge${grey ? " inactive" : ""}" d="M${x1} ${y1} C${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2 - 2} ${y2}" fill="none" stroke="${colour}" stroke-width="1.5"${grey ? html` stroke-dasharray="5 4"` : ""} marker-end="url(#${grey ? "arrow-grey" : "arrow"})"/>`;
}

/** A small rounded label; `anchor` end puts its right edge at `x`. */
export function pill(
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

/** Word-wraps `text` to lines of at most `width` characters, at most `max` lines. */
export function wrap(text: string, width: number, max: number): string[] {
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
