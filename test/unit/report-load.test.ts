import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonReporter } from "../../src/report/json.ts";
import { readReport } from "../../src/report/load.ts";
import { failingRun, inconclusiveRun, loadRun } from "./report-fixtures.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-load-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("readReport", () => {
  it("reads back what the json reporter wrote", async () => {
    const r = inconclusiveRun();
    const file = await put("report.json", jsonReporter.render(r));
    expect(await readReport(file)).toEqual(r);
  });

  it("rejects another schema_version, naming the file and both versions", async () => {
    const file = await put("newer.json", { ...failingRun(), schema_version: 2 });
    const err = await readReport(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(
      /schema_version 2 is not supported; this rehearse reads schema_version 1/,
    );
    expect((err as Error).message).toContain("newer rehearse");
  });

  it("rejects a JSON file that is not a report at all, naming the file", async () => {
    const file = await put("package.json", { name: "x", version: "1.0.0" });
    await expect(readReport(file)).rejects.toThrow(
      `${file}: not a rehearse report: no schema_version (expected schema_version 1)`,
    );
    const arr = await put("array.json", [1, 2]);
    await expect(readReport(arr)).rejects.toThrow(`${arr}: not a rehearse report`);
  });

  it("reports invalid JSON and a missing file with the file name", async () => {
    const bad = await put("bad.json", "{ not json");
    await expect(readReport(bad)).rejects.toThrow(`${bad}: not valid JSON`);
    const missing = path.join(dir, "missing.json");
    await expect(readReport(missing)).rejects.toThrow(`${missing}: cannot read report`);
  });

  it("lists shape errors by path", async () => {
    const r = failingRun() as unknown as { checks: { status: string }[]; steps: unknown };
    r.checks[1]!.status = "maybe";
    delete (r as { steps?: unknown }).steps;
    const file = await put("broken.json", r);
    const msg = await readReport(file).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(msg).toContain(`${file}: invalid rehearse report`);
    expect(msg).toMatch(/checks\[1\]\.status: /);
    expect(msg).toMatch(/\n {2}steps: /);
  });

  it("keeps fields it does not know (added later without a version bump)", async () => {
    const file = await put("extra.json", { ...failingRun(), future_field: { a: 1 } });
    expect(await readReport(file)).toHaveProperty("future_field", { a: 1 });
  });

  it("reads back a run with load and observations, keeping the fields it does not type", async () => {
    const r = loadRun();
    const file = await put("load.json", jsonReporter.render(r));
    const back = await readReport(file);
    expect(back).toEqual(r);
    expect(back.load!.windows).toHaveLength(r.load!.windows.length);
    expect(back.observations!.blocking[1]!.load_waiters).toBe(37);
  });

  it("rejects a load whose windows are not an array, naming the file and the path", async () => {
    const r = loadRun() as unknown as { load: { windows: unknown } };
    r.load.windows = { cutover: 900 };
    const file = await put("bad-load.json", r);
    const msg = await readReport(file).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(msg).toContain(`${file}: invalid rehearse report`);
    expect(msg).toMatch(/\n {2}load\.windows: /);
  });

  it("names the path into nested load and observation fields", async () => {
    const r = loadRun() as unknown as {
      load: { windows: { latency: { p99: unknown } }[] };
      observations: { blocking: { load_waiters: unknown }[] };
    };
    r.load.windows[2]!.latency.p99 = "900ms";
    r.observations.blocking[0]!.load_waiters = null;
    const file = await put("bad-nested.json", r);
    const msg = await readReport(file).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(msg).toMatch(/load\.windows\[2\]\.latency\.p99: /);
    expect(msg).toMatch(/observations\.blocking\[0\]\.load_waiters: /);
  });

  it("accepts a report without timings (written before they existed), as an empty list", async () => {
    const r = failingRun() as Partial<ReturnType<typeof failingRun>>;
    delete r.timings;
    const file = await put("old.json", r);
    expect((await readReport(file)).timings).toEqual([]);
  });
});
