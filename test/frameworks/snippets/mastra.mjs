import { MCPClient } from "@mastra/mcp";

const url = `${process.env.BATON_ISSUER ?? "http://127.0.0.1:8787"}/mcp`;
const headers = { Authorization: `Bearer ${process.env.BATON_TOKEN}` };
const mcp = new MCPClient({ servers: { baton: { url: new URL(url), requestInit: { headers } } } });
const tools = await mcp.listTools(); // new Agent({ name, instructions, model, tools })
console.log(Object.keys(tools));
await mcp.disconnect();
