import { Agent, MCPServerStreamableHttp, RunContext } from "@openai/agents"; // for console.log below

const url = `${process.env.BATON_ISSUER ?? "http://127.0.0.1:8787"}/mcp`;
const headers = { Authorization: `Bearer ${process.env.BATON_TOKEN}` };
const useStructuredContent = true; // the model reads each result as JSON
const baton = new MCPServerStreamableHttp({ url, requestInit: { headers }, useStructuredContent });
await baton.connect();
const mcpConfig = { convertSchemasToStrict: true }; // OpenAI's strict schemas: all 8 tools fit
const agent = new Agent({ name: "planner", mcpServers: [baton], mcpConfig });
console.log((await agent.getAllTools(new RunContext())).map((tool) => tool.name)); // run(agent, …)
await baton.close();
