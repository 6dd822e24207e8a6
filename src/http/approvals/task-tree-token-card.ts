/**
 * One token of the task tree picture as a card: its kind and audience, scopes, status and
 * expiry, greyed unless active, with the whole story in its tooltip. The card is the densest
 * part of the drawing, so it is drawn here, apart from the boxes that lay cards out.
 *
 * @module http/approvals/task-tree-token-card
 */

import { html } from "hono/html";
import type { TokenNode } from "../../audit/task-tree.js";
import type { Html } from "./html.js";
import {
  CARD_W,
  COLOURS,
  clock,
  cut,
  type Drawn,
  iso,
  LINE,
  MONO,
  MONO_CHARS,
  PAD,
  pill,
  TEXT_CHARS,
} from "./task-tree-look.js";

/** The kind's label on the card. */
const BADGE = { access: "access", delegation: "delegation", id_jag: "id-jag" } as const;

const CAUSES = {
  token: "",
  ancestor: "cascaded from its parent",
  task: "the task was ended",
} as const;
export /** One token: kind and audience, scopes, status and expiry. Greyed unless active. */
function tokenCard(token: TokenNode, x: number, y: number, now: number): Drawn {
  const live = token.status === "active";
  const look = COLOURS[token.kind];
  const ink = live ? COLOURS.ink : COLOURS.grey.ink;
  const lines: Html[] = [];
  let cy = y + 24;
  const badge = BADGE[token.kind];
  lines.push(
    pill(
      x + PAD + 2,
      cy,
      badge,
      live ? look.badge : "#dfe2e8",
      live ? look.text : COLOURS.grey.ink,
    ),
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
          COLOURS.status.revoked,
        ]
      : token.status === "expired"
        ? [`expired ${clock(token.exp)}`, COLOURS.grey.ink]
        : [`active · until ${clock(token.exp)}`, COLOURS.status.active];
  lines.push(
    html`<circle cx="${x + PAD + 5}" cy="${cy - 4.5}" r="4" fill="${colour}"/>`,
    html`<text class="status" x="${x + PAD + 15}" y="${cy}" fill="${colour}" font-size="12" font-weight="600">${status}</text>`,
  );
  const cause = token.status === "revoked" ? CAUSES[token.revoked?.cause ?? "token"] : "";
  if (cause !== "") {
    cy += LINE - 2;
    lines.push(
      html`<text x="${x + PAD + 15}" y="${cy}" fill="${COLOURS.grey.ink}" font-size="11.5" font-style="italic">${cut(cause, TEXT_CHARS)}</text>`,
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
<rect class="card" x="${x}" y="${y}" width="${CARD_W}" height="${height}" rx="8" fill="${live ? COLOURS.card : COLOURS.grey.card}" stroke="${live ? look.stroke : COLOURS.grey.stroke}"/>
<rect x="${x}" y="${y + 6}" width="4" height="${height - 12}" rx="2" fill="${live ? look.stripe : COLOURS.grey.stroke}"/>
${lines}</g>`,
    ],
    height,
    width: x + CARD_W,
  };
}
