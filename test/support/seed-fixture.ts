/** Loads a scenario's schema and seeds its dataset into a database: the "production data" a clone carries. */
import pg from "pg";
import { loadScenario } from "../../src/scenario/load.ts";
import { seedDataset } from "../../src/seed/seeder.ts";

/** Creates the schema of the scenario in `dir` in the database `config` names, then seeds its dataset. */
export async function seedFixture(config: pg.ClientConfig, dir: string): Promise<void> {
  const rs = await loadScenario(dir);
  const connect = async () => {
    const c = new pg.Client(config);
    await c.connect();
    return c;
  };
  const db = await connect();
  try {
    for (const st of rs.schemaSql.statements) await db.query(st.sql);
  } finally {
    await db.end();
  }
  await seedDataset(connect, rs.scenario.dataset);
}
