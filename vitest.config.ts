import { configDefaults, defineConfig } from "vitest/config";

/** Integration files that saturate the machine for minutes: run once the others are done. */
const HEAVY = ["test/integration/init-matrix.test.ts"];
/**
 * Files whose verdicts hang on milliseconds: a 1M-row rehearsal whose report must pass, lock budgets
 * included; init's scaffolds, rehearsed as generated under the default 1 s ACCESS EXCLUSIVE budget; lock
 * waits of 200 ms each, counted by a poll. Last, one file at a time, so nothing else's CPU use decides them
 * (beside other files, a scaffold's cutover once held its lock past 1 s and the poll missed one wait).
 */
const ALONE = [
  "test/integration/html-layout.test.ts",
  "test/integration/init.test.ts",
  "test/integration/lock-waits.test.ts",
];

export default defineConfig({
  test: {
    // A private TMPDIR for the run, and a failed run if it leaves temp directories or server sockets behind.
    globalSetup: ["test/support/global-setup.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...HEAVY, ...ALONE],
          environment: "node",
          // Each file starts its own PostgreSQL cluster; two cores, so two files at a time.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // After the others, not beside them: the init matrix rehearses ~40 scenarios back to back and kept
          // both cores busy while ledger-attach-history's millisecond budgets were being measured (a 1.2 s
          // catalog-only cutover under CPU starvation failed CI once).
          name: "integration-heavy",
          include: HEAVY,
          environment: "node",
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "integration-alone",
          include: ALONE,
          environment: "node",
          maxWorkers: 1,
          sequence: { groupOrder: 3 },
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
