/**
 * `rehearse clone`: provisions a clone with any provider — seeded from a scenario's dataset when it starts
 * empty — for exploring by hand, and keeps it until the process is interrupted.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { Clone, CloneProvider } from "../clone/provider.ts";
import { seedDataset } from "../seed/seeder.ts";
import { syncSeededSequences } from "../seed/sequences.ts";
import { registerCleanup } from "../util/cleanup.ts";
import { closeClients, connector } from "../util/connect.ts";
import type { Logger } from "../util/logger.ts";
import { registerSecret } from "../util/redact.ts";
import type { RehearsalOptions } from "./options.ts";
import { CLONE_DATABASE, defaultProviders } from "./providers.ts";
import { resolveRows } from "./rows.ts";
import { newRunId } from "./run-id.ts";
import { loadCheckedScenario } from "./scenario.ts";
import { runSetupSql } from "./setup-sql.ts";

export interface CloneSession {
  clone: Clone;
  /** A pgpass file (mode 0600) holding the clone's password; removed with the clone. */
  passFile: string;
  seededRows?: number;
}

/** Provisions the clone, seeds it if the scenario says how and the clone is empty, writes the pgpass file. */
export async function provisionClone(
  opts: Pick<RehearsalOptions, "provider" | "targetUrl" | "allowUnmarked" | "aurora" | "rows" | "scale"> & {
    scenarioPath?: string;
    logger: Logger;
    providers?: Record<string, CloneProvider>;
  },
): Promise<CloneSession> {
  const rs = opts.scenarioPath ? await loadCheckedScenario(opts.scenarioPath) : undefined;
  const name = opts.provider ?? rs?.scenario.target.provider ?? "embedded";
  const providers: Record<string, CloneProvider> =
    opts.providers ??
    defaultProviders({ ...opts, aurora: { ...rs?.scenario.target.aurora, ...opts.aurora } });
  const provider = providers[name];
  if (!provider)
    throw new Error(`no clone provider named "${name}" (have: ${Object.keys(providers).join(", ")})`);
  const clone = await provider.start({
    settings: rs?.scenario.target.settings,
    version: rs?.scenario.target.version,
    image: rs?.scenario.target.image,
    database: CLONE_DATABASE,
    runId: newRunId(rs?.scenario.name ?? "clone"),
    log: (l) => opts.logger.debug(l),
  });
  try {
    const cfg = clone.connectionConfig();
    if (typeof cfg.password === "string") registerSecret(cfg.password);
    let seededRows: number | undefined;
    if (rs && !clone.hasData) {
      const clients: pg.Client[] = [];
      const connect = connector(cfg, clients);
      try {
        const db = await connect();
        await runSetupSql(db, rs.schemaSql, "dataset.schema");
        const seeded = await seedDataset(connect, rs.scenario.dataset, { rows: resolveRows(rs, opts) });
        seededRows = seeded.reduce((n, t) => n + t.rows, 0);
        await syncSeededSequences(db, rs.scenario.dataset);
        if (rs.afterSql) await runSetupSql(db, rs.afterSql, "dataset.after");
      } finally {
        await closeClients(clients);
      }
    }
    const dir = await mkdtemp(path.join(tmpdir(), "rehearse-pgpass-"));
    const passFile = path.join(dir, "pgpass");
    registerCleanup(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
    const esc = (v: unknown) => String(v ?? "*").replace(/([\\:])/g, "\\$1");
    await writeFile(
      passFile,
      `${esc(cfg.host)}:${esc(cfg.port ?? 5432)}:${esc(cfg.database)}:${esc(cfg.user)}:${esc(cfg.password)}\n`,
      { mode: 0o600 },
    );
    await chmod(passFile, 0o600);
    return { clone, passFile, seededRows };
  } catch (err) {
    await clone.stop().catch(() => {});
    throw err;
  }
}
