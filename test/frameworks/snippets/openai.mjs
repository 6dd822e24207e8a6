import { Agent, MCPServerStreamableHttp, RunContext } from "@openai/agents";

const url = `${process.env.BATON_ISSUER ?? "http://127.0.0.1:8787"}/mcp`;
const headers = { Authorization: `Bearer ${process.env.BATON_TOKEN}` };
const baton = new MCPServerStreamableHttp({ url, requestInit: { headers } });
await baton.connect();
const agent = new Agent({
  name: "planner",
  mcpServers: [baton],
  mcpConfig: { convertSchemasToStrict: true },
});
console.log((await agent.getAllTools(new RunContext())).map((tool) => tool.name)); // run(agent, …)
await baton.close();
