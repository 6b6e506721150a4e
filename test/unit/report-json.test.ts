import { describe, expect, it } from "vitest";
import { jsonReporter } from "../../src/report/json.ts";
import type { RunReport } from "../../src/report/model.ts";
import { getReporter, isReportFormat, REPORT_FORMATS, reporters } from "../../src/report/registry.ts";
import { failingRun } from "./report-fixtures.ts";

/** The same report with every object's keys inserted in reverse order. */
function reversed<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversed) as T;
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v)
      .reverse()
      .map(([k, x]) => [k, reversed(x)]),
  ) as T;
}

describe("json reporter", () => {
  it("round-trips the report", () => {
    const r = failingRun();
    expect(JSON.parse(jsonReporter.render(r))).toEqual(r);
  });

  it("writes keys in a stable order whatever order the run filled them in", () => {
    const r = failingRun();
    const text = jsonReporter.render(r);
    expect(jsonReporter.render(reversed(r) as RunReport)).toBe(text);
    expect(Object.keys(JSON.parse(text)).slice(0, 5)).toEqual([
      "schema_version",
      "tool",
      "run_id",
      "scenario",
      "status",
    ]);
    // Nested objects are alphabetical; arrays keep their order (failures-first, timeline order).
    expect(Object.keys(JSON.parse(text).checks[0])).toEqual(["findings", "id", "kind", "status", "summary"]);
    expect(text).toMatch(/^\{\n {2}"schema_version": 1,\n/);
    expect(text.endsWith("}\n")).toBe(true);
  });

  it("keeps fields the model gains later, after the known ones", () => {
    const r = { ...failingRun(), zz_new: 1, aa_new: 2 } as RunReport;
    const keys = Object.keys(JSON.parse(jsonReporter.render(r)));
    expect(keys.slice(-2)).toEqual(["aa_new", "zz_new"]);
  });
});

describe("reporter registry", () => {
  it("has one reporter per format, keyed by its own format name", () => {
    expect(REPORT_FORMATS).toEqual(["json", "markdown", "junit", "html", "terminal"]);
    for (const f of REPORT_FORMATS) expect(reporters[f].format).toBe(f);
    expect(reporters.json.fileName).toBe("report.json");
    expect(reporters.markdown.fileName).toBe("summary.md");
    expect(reporters.junit.fileName).toBe("junit.xml");
    expect(reporters.html.fileName).toBe("index.html");
    expect(reporters.terminal.fileName).toBeUndefined();
  });

  it("rejects an unknown format naming the known ones", () => {
    expect(isReportFormat("toString")).toBe(false);
    expect(() => getReporter("pdf")).toThrow(
      /unknown report format "pdf"; expected one of: json, markdown, junit, html, terminal/,
    );
    expect(getReporter("junit")).toBe(reporters.junit);
  });
});
