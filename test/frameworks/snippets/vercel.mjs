import { createMCPClient } from "@ai-sdk/mcp";

const url = `${process.env.BATON_ISSUER ?? "http://127.0.0.1:8787"}/mcp`;
const headers = { Authorization: `Bearer ${process.env.BATON_TOKEN}` };
const baton = await createMCPClient({ transport: { type: "http", url, headers } });
const tools = await baton.tools(); // generateText({ model, tools, prompt })
console.log(Object.keys(tools));
await baton.close();
