/**
 * The HTTP ceiling: a hello-world `node:http` server (deps.md §8b).
 *
 * Usage: node --import tsx bench/servers/hello.ts PORT
 */

import { createServer } from "node:http";

const port = Number(process.argv[2]);
createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("hello world");
}).listen(port, "127.0.0.1");
