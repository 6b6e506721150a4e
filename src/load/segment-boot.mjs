// A load segment's worker thread starts here: the sources are TypeScript, run through tsx as the CLI runs
// them (bin/rehearse.js), and a worker thread does not inherit the hooks its parent registered.
import { register } from "tsx/esm/api";

register();
await import("./segment-worker.ts");
