import { readFileSync } from "node:fs";

/** The package version, read once; reports carry it so a report says which rehearse wrote it. */
export const TOOL_VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;
