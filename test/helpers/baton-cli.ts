import { run } from "../../src/main/index.js";

await run(process.argv);
