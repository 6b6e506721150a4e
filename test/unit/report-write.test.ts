import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readReport } from "../../src/report/load.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import {
  makeDirectory,
  OutputDirError,
  prepareOutputDir,
  truncateForStepSummary,
  writeReports,
} from "../../src/report/write.ts";
import { failingRun } from "./report-fixtures.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-write-"));
  vi.stubEnv("GITHUB_STEP_SUMMARY", undefined);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe("writeReports", () => {
  it("creates the directory and writes report.json, summary.md, junit.xml and index.html, nothing else", async () => {
    const out = path.join(dir, "reports", "run-1");
    const written = await writeReports(failingRun(), out);
    expect(written).toEqual(
      ["report.json", "summary.md", "junit.xml", "index.html"].map((f) => path.join(out, f)),
    );
    expect((await readdir(out)).sort()).toEqual(["index.html", "junit.xml", "report.json", "summary.md"]);
    expect(await readReport(path.join(out, "report.json"))).toEqual(failingRun());
    expect(await readFile(path.join(out, "summary.md"), "utf8")).toBe(renderMarkdown(failingRun()));
    expect(await readFile(path.join(out, "junit.xml"), "utf8")).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /,
    );
  });

  it("overwrites an earlier run's files", async () => {
    await writeReports(failingRun(), dir);
    const r = failingRun();
    r.run_id = "second";
    await writeReports(r, dir);
    expect((await readReport(path.join(dir, "report.json"))).run_id).toBe("second");
  });

  it("appends the summary to $GITHUB_STEP_SUMMARY, keeping what other steps wrote", async () => {
    const summary = path.join(dir, "step_summary");
    await writeFile(summary, "## earlier step\n");
    vi.stubEnv("GITHUB_STEP_SUMMARY", summary);
    const written = await writeReports(failingRun(), path.join(dir, "out"));
    const text = await readFile(summary, "utf8");
    expect(text.startsWith("## earlier step\n## rehearse: FAILED")).toBe(true);
    expect(text).toContain("### Failing checks");
    expect(written).not.toContain(summary);
  });

  it("leaves $GITHUB_STEP_SUMMARY alone when it is not set", async () => {
    const summary = path.join(dir, "step_summary");
    await writeFile(summary, "");
    await writeReports(failingRun(), path.join(dir, "out"));
    expect(await readFile(summary, "utf8")).toBe("");
  });
});

describe("makeDirectory and prepareOutputDir", () => {
  it("creates every missing level, and accepts one that exists", async () => {
    const deep = path.join(dir, "a", "b", "c");
    makeDirectory(deep);
    makeDirectory(deep);
    expect(prepareOutputDir(deep)).toBe(deep);
    // The write probe leaves nothing.
    expect(await readdir(deep)).toEqual([]);
  });

  it("ends under /proc, where Node's recursive mkdir loops forever, with the reason", () => {
    for (const p of ["/proc/rehearse-nope", "/proc/rehearse-nope/deeper"]) {
      const err = (() => {
        try {
          makeDirectory(p);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(OutputDirError);
      expect((err as OutputDirError).reason).toMatch(/^cannot create \/proc\/rehearse-nope \(ENOENT: /);
    }
  });

  it("names a file in the way, and refuses a writable path's file as the directory", async () => {
    const file = path.join(dir, "f");
    await writeFile(file, "");
    expect(() => prepareOutputDir(file)).toThrow(/is a file, not a directory/);
    expect(() => makeDirectory(path.join(file, "x", "y"))).toThrow(
      `${file} is a file, so no directory can be made under it`,
    );
  });

  it("writeReports under /proc fails at once instead of spinning", async () => {
    await expect(writeReports(failingRun(), "/proc/rehearse-nope/run-1")).rejects.toBeInstanceOf(
      OutputDirError,
    );
  });
});

describe("truncateForStepSummary", () => {
  it("leaves a small summary as is", () => {
    expect(truncateForStepSummary("# hi\n", 100)).toBe("# hi\n");
  });

  it("cuts at a line under the byte limit, closes an open fence and says so", () => {
    const md = `# title\n\n\`\`\`\n${"ALTER TABLE é;\n".repeat(200)}\`\`\`\n`;
    const out = truncateForStepSummary(md, 1000);
    expect(Buffer.byteLength(out, "utf8")).toBeLessThanOrEqual(1000);
    expect(out).toContain("Summary truncated");
    expect(out).not.toContain("\uFFFD");
    expect(out.match(/^```/gm)).toHaveLength(2);
  });
});
