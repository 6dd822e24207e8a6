import { MultiServerMCPClient } from "@langchain/mcp-adapters";

const url = `${process.env.BATON_ISSUER ?? "http://127.0.0.1:8787"}/mcp`;
const headers = { Authorization: `Bearer ${process.env.BATON_TOKEN}` };
const mcpServers = { baton: { transport: "http", url, headers } };
const client = new MultiServerMCPClient({ mcpServers });
const tools = await client.getTools(); // createAgent({ model, tools })
console.log(tools.map((tool) => tool.name));
await client.close();
