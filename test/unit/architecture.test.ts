// The import walls of ARCHITECTURE.md, as .dependency-cruiser.cjs states them: src/ keeps every one, and each
// one fires on the deliberate violations of test/fixtures/import-walls (so a wall that matches nothing — a
// mistyped path, a resolution that changed — fails here instead of passing quietly).
import { createRequire } from "node:module";
import path from "node:path";
import { cruise, type ICruiseResult, type IForbiddenRuleType } from "dependency-cruiser";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const config = createRequire(import.meta.url)(path.join(root, ".dependency-cruiser.cjs")) as {
  forbidden: IForbiddenRuleType[];
};

interface Violation {
  rule: string;
  from: string;
  to: string;
}

async function violations(baseDir: string): Promise<Violation[]> {
  const tsConfigFile = path.join(root, "tsconfig.json");
  const result = await cruise(
    ["src"],
    {
      baseDir,
      validate: true,
      ruleSet: { forbidden: config.forbidden },
      tsPreCompilationDeps: true,
      tsConfig: { fileName: tsConfigFile },
      doNotFollow: { path: "node_modules" },
    },
    { extensions: [".ts", ".js", ".mjs", ".cjs", ".json"] },
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}

describe("import walls", () => {
  it("src/ crosses none of them", { timeout: 60_000 }, async () => {
    expect(await violations(root)).toEqual([]);
  });

  it("each wall fires on its deliberate violation", { timeout: 60_000 }, async () => {
    const found = await violations(path.join(root, "test/fixtures/import-walls"));
    const by = (rule: string) => found.filter((v) => v.rule === rule).map((v) => `${v.from} -> ${v.to}`);
    expect(by("checks-budgets-are-pure")).toEqual([
      "src/budgets/uses-provider.ts -> src/clone/provider.ts",
      expect.stringMatching(/^src\/checks\/uses-driver\.ts -> .*node_modules\/pg\//),
    ]);
    expect(by("reporters-read-the-model")).toEqual([
      "src/report/reads-scenario.ts -> src/scenario/schema.ts",
    ]);
    expect(by("cli-uses-the-public-api")).toEqual(["src/cli/reaches-inside.ts -> src/run/stage.ts"]);
    expect(by("nothing-imports-the-cli")).toEqual(["src/run/stage.ts -> src/cli/flags.ts"]);
    expect(by("leaves-stay-leaves")).toEqual(["src/util/climbs.ts -> src/run/stage.ts"]);
    // A cycle is reported once, from whichever of its files is cruised first.
    expect(by("no-circular")).toEqual([
      expect.stringMatching(/^src\/run\/(ping|pong)\.ts -> src\/run\/(pong|ping)\.ts$/),
    ]);
    // Every wall of the config is exercised above: a new wall needs a fixture too.
    expect(new Set(found.map((v) => v.rule))).toEqual(new Set(config.forbidden.map((r) => r.name)));
  });
});
