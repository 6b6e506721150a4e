/** The last stage, whatever happened before: all the run registered is closed, removed, stopped, in order. */
import { rm } from "node:fs/promises";
import { setAckLedger } from "../checks/no-lost-writes.ts";
import { closeClients } from "../util/connect.ts";
import type { RunContext } from "./context.ts";

export async function teardown(ctx: RunContext): Promise<void> {
  const { log, report, resources } = ctx;
  ctx.enter("stopping the clone");
  ctx.stopListening();
  // A background session still running (a failure or an interrupt cut the steps short) is terminated
  // server-side first: closing its socket alone would leave its pg_sleep or VACUUM running.
  await resources.background?.stop().catch(() => {});
  // Connections first: one left open holds the server's shutdown (and its directory) hostage.
  await closeClients(resources.clients);
  for (const p of resources.pools) await p.end().catch(() => {});
  setAckLedger(undefined);
  if (resources.ackDir) {
    await rm(resources.ackDir.path, { recursive: true, force: true }).catch(() => {});
    resources.ackDir.unregister();
  }
  if (resources.clone) {
    log.info("stopping the clone");
    await resources.clone.stop().catch((e: Error) => {
      log.info(`could not stop the clone cleanly: ${e.message}`);
      if (report.context.clone) report.context.clone.teardown_error = e.message;
    });
  }
  ctx.emit({ kind: "done" });
}
