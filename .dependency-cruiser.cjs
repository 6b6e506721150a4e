// The import walls of ARCHITECTURE.md. Checked by `npm run lint` (depcruise) and by
// test/unit/architecture.test.ts, which also proves each wall fires on a deliberate violation.
// Paths are relative to the repository root (or to the fixture tree the test cruises).

/** The database driver and the things that start or reach servers: never below the orchestration. */
const DRIVER_AND_PROVIDERS = [
  // Anchored on "node_modules/", not "^": the fixture tree the test cruises resolves them from further up.
  "(^|/)node_modules/(@types/)?(pg|pg-pool|pg-copy-streams)/",
  "^src/clone/",
  "^src/util/connect\\.ts$",
];

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Files that import each other cannot be read, tested or moved one at a time.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "checks-budgets-are-pure",
      comment:
        "Checks and budgets judge snapshots and gathered facts; they reach the database only through the " +
        "Queryable they are handed (src/db/), never the driver, a provider, the load or the orchestration.",
      severity: "error",
      from: { path: "^src/(checks|budgets)/" },
      to: {
        path: [
          ...DRIVER_AND_PROVIDERS,
          "^src/catalog/snapshot\\.ts$",
          "^src/(load|migration|observers|run|seed|init|project|cli)/",
          "^src/scenario/load\\.ts$",
          "^src/index\\.ts$",
        ],
      },
    },
    {
      name: "reporters-read-the-model",
      comment:
        "Reporters render the run-result model (src/report/model.ts) and nothing else, so report.json alone " +
        "re-renders every format.",
      severity: "error",
      from: { path: "^src/report/" },
      to: {
        path: "^src/",
        pathNot: ["^src/report/", "^src/util/(redact|logger)\\.ts$", "^src/version\\.ts$"],
      },
    },
    {
      name: "cli-uses-the-public-api",
      comment:
        "The CLI is commander wiring over the library's public API (src/index.ts), like any other caller.",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/", pathNot: ["^src/cli/", "^src/index\\.ts$"] },
    },
    {
      name: "nothing-imports-the-cli",
      comment: "The CLI is the top floor: the library never depends on how it is invoked.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: ["^src/cli/", "^src/index\\.ts$"] },
    },
    {
      name: "leaves-stay-leaves",
      comment:
        "util/, db/ and version.ts sit on the ground floor: everything may import them, they import no layer.",
      severity: "error",
      from: { path: ["^src/util/", "^src/db/", "^src/version\\.ts$"] },
      to: { path: "^src/", pathNot: ["^src/util/", "^src/db/", "^src/version\\.ts$"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports tie files together as much as value imports do: a cycle through a type is a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
