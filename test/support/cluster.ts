/**
 * One embedded cluster per test file, a fresh database per test: the integration tests' shared setup.
 * Call at the top level of a test file; it registers its own beforeAll/afterAll.
 */
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { ident } from "../../src/db/sql.ts";

export interface TestCluster {
  /** The running clone (set once beforeAll has run). */
  clone(): Clone;
  /** Creates a new database named `<prefix>_<n>` and returns a connected client to it. */
  freshDb(): Promise<pg.Client>;
}

/** `setup` runs once on the cluster (cluster-wide objects such as roles). */
export function useCluster(prefix: string, setup?: (admin: pg.Client) => Promise<void>): TestCluster {
  let clone: Clone | undefined;
  let n = 0;
  beforeAll(async () => {
    clone = await new EmbeddedProvider().start();
    if (setup) {
      const c = new pg.Client(clone.connectionConfig());
      await c.connect();
      try {
        await setup(c);
      } finally {
        await c.end();
      }
    }
  });
  afterAll(async () => {
    await clone?.stop();
  });
  return {
    clone: () => clone!,
    async freshDb() {
      const name = `${prefix}_${++n}`;
      const admin = new pg.Client(clone!.connectionConfig());
      await admin.connect();
      await admin.query(`CREATE DATABASE ${ident(name)}`);
      await admin.end();
      const c = new pg.Client({ ...clone!.connectionConfig(), database: name });
      await c.connect();
      return c;
    },
  };
}
