#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx so `npx rehearse` works right after `npm ci`,
// with no build step whose output could go stale.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
