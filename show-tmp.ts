import { renderMarkdown } from "./src/report/markdown.ts";
import { renderTerminal } from "./src/report/terminal.ts";
import { renderJunit } from "./src/report/junit.ts";
import * as f from "./test/unit/report-fixtures.ts";
const which = process.argv[2] as keyof typeof f.ALL_FIXTURES;
const fmt = process.argv[3];
const r = f.ALL_FIXTURES[which]();
console.log(fmt === "md" ? renderMarkdown(r) : fmt === "junit" ? renderJunit(r) : renderTerminal(r, { color: false, reportDir: "reports/x" }));
