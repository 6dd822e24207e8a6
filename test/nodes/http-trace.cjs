/**
 * Preloaded into `baton serve` by the shutdown test (NODE_OPTIONS=--require): writes one line
 * per request that carries an `x-load-id` header to the file named by HTTP_TRACE_FILE, when
 * Node's HTTP server hands it to Baton (`read`), when its response is fully written
 * (`answered`), and when its connection closes before that (`cut`). Synchronous writes, so the
 * lines survive the process.exit() at the end of a graceful stop. Nothing in src/ knows of it.
 */
"use strict";
const fs = require("node:fs");
const http = require("node:http");

const file = process.env.HTTP_TRACE_FILE;
if (file) {
  const fd = fs.openSync(file, "a");
  const log = (event, id) => fs.writeSync(fd, `${event} ${id}\n`);
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function traced(name, req, res, ...rest) {
    if (name === "request") {
      const id = req.headers["x-load-id"];
      if (typeof id === "string") {
        log("read", id);
        res.once("finish", () => log("answered", id));
        res.once("close", () => {
          if (!res.writableFinished) log("cut", id);
        });
      }
    }
    return emit.call(this, name, req, res, ...rest);
  };
}
