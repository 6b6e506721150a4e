import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { escapeHtml, htmlReporter } from "../../src/report/html.ts";
import { fileReporters } from "../../src/report/registry.ts";
import { clearSecrets, registerSecret } from "../../src/util/redact.ts";
import { expectedFailureRun, failingRun, inconclusiveRun, loadRun, passingRun } from "./report-fixtures.ts";

const render = htmlReporter.render;

function charts(html: string): string[] {
  const figures =
    /<figure class="chart" data-chart="[^"]+"><figcaption>[^<]*<\/figcaption>([\s\S]*?)<\/figure>/g;
  return [...html.matchAll(figures)].map((m) => m[1]!);
}

describe("html reporter", () => {
  it("is a file reporter writing index.html", () => {
    expect(htmlReporter.fileName).toBe("index.html");
    expect(fileReporters()).toContain(htmlReporter);
  });

  it("escapes text", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  for (const [name, fixture] of Object.entries({
    loadRun,
    failingRun,
    passingRun,
    inconclusiveRun,
    expectedFailureRun,
  })) {
    it(`${name}: self-contained, no network references`, () => {
      const html = render(fixture());
      expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
      expect(html).not.toMatch(/(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?\/\//i);
      expect(html).not.toMatch(/url\(\s*["']?(?:https?:)?\/\//i);
      expect(html).not.toMatch(/@import/i);
      expect(html).not.toMatch(/<(?:script|link|img|iframe)\b/i);
    });
  }

  it("draws every chart of a load run as an SVG with data marks", () => {
    const html = render(loadRun());
    const ids = [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(["latency", "throughput", "locks", "tables", "wal"]);
    expect(charts(html)).toHaveLength(5);
    for (const svg of charts(html)) {
      expect(svg.trimStart().startsWith("<svg")).toBe(true);
      expect(svg).toMatch(/<(?:path|rect)\b[^>]*(?:\bd="M|width="[1-9])/);
    }
    // Phase bands carry their names; step markers their numbers, which the step key above the charts names.
    expect(charts(html)[0]).toContain("cutover");
    expect(charts(html)[0]).toMatch(/>2<\/text>/);
    expect(html).toMatch(/class="step-key">.*<li><b>2<\/b> cutover\/attach /);
    // Legends are HTML under each chart (they wrap), never ECharts' paged SVG legend.
    expect(html).not.toContain('ecmeta_ssr_type="legend"');
    expect(html).toContain('<ul class="legend">');
    // No replica: said in words, not drawn.
    expect(html).toMatch(/data-absent="replication"[^>]*>[^<]*no replica/);
  });

  it("omits charts without data and says why", () => {
    const html = render(passingRun());
    expect(html).toMatch(/data-absent="latency"[^>]*>[^<]*no load ran/);
    expect(html).toMatch(/data-absent="throughput"/);
    expect(html).toMatch(/data-absent="wal"[^>]*>[^<]*no observations/);
    for (const svg of charts(html)) expect(svg.trimStart().startsWith("<svg")).toBe(true);
  });

  it("puts the verdict, then the failures, before everything else, failures before passes", () => {
    const html = render(failingRun());
    expect(html).toMatch(/class="banner status-failed"[^>]*><div class="verdict">FAILED</);
    const banner = html.indexOf('id="verdict"');
    const failures = html.indexOf('id="failures"');
    expect(banner).toBeGreaterThan(0);
    expect(failures).toBeGreaterThan(banner);
    // Under the banner, the caveats (what the run did not establish), then what failed.
    expect(html.slice(html.indexOf("</header>") + "</header>".length).trimStart()).toMatch(
      /^<section id="caveats"><h2>What this run did not establish<\/h2><ul><li>scale: [^<]*<\/li>.*<\/ul><\/section>\n<section id="failures"/,
    );
    for (const id of ["charts", "checks", "steps", "context"])
      expect(html.indexOf(`id="${id}"`)).toBeGreaterThan(failures);
    const checks = html.slice(html.indexOf('id="checks"'));
    expect(checks.indexOf("fk_valid")).toBeLessThan(checks.indexOf("triggers_preserved"));
    expect(checks.indexOf("budget.no_scan_under_access_exclusive")).toBeLessThan(
      checks.indexOf("triggers_preserved"),
    );
    expect(html).toContain("VALIDATE CONSTRAINT orders_2023_customer_id_fkey");
  });

  it("an inconclusive run says INCONCLUSIVE with its reason and never looks like a pass", () => {
    const html = render(inconclusiveRun());
    expect(html).toMatch(/class="banner status-inconclusive"[^>]*><div class="verdict">INCONCLUSIVE</);
    expect(html).not.toContain("banner status-passed");
    expect(html).toContain("lock_timeout after 3 attempts");
    // The step error, located, with its excerpt preformatted.
    expect(html).toContain("<code>55P03</code>");
    expect(html).toContain("migration/02_cutover.sql:2:13");
    expect(html).toMatch(/<pre>ALTER TABLE orders ATTACH PARTITION/);
    expect(html.indexOf('id="failures"')).toBeLessThan(html.indexOf('id="charts"'));
  });

  it("says a step's error once in full (with its check), and the Steps table only points at it", () => {
    const r = inconclusiveRun();
    const st = r.steps.find((x) => x.error)!;
    st.error!.message = `${st.error!.message} ${"x".repeat(400)}`;
    r.checks.push({
      id: "migration_completed",
      kind: "invariant",
      status: "fail",
      summary: `step failed: ${st.error!.message}`,
      findings: [st.error!.message],
    });
    const html = render(r);
    const failures = html.slice(
      html.indexOf('id="failures"'),
      html.indexOf("</section>", html.indexOf('id="failures"')),
    );
    expect(failures.split(st.error!.message).length - 1).toBe(1);
    expect(failures).toMatch(/<code>migration_completed<\/code>: <strong>/);
    const steps = html.slice(html.indexOf('id="steps"'));
    expect(steps).not.toContain(st.error!.message);
    expect(steps).toMatch(/x…<\/td>|x… <a href="#failures">details<\/a>/);
    expect(steps).not.toMatch(/<pre>/);
  });

  it("an aborted run is not green either", () => {
    const r = inconclusiveRun();
    r.status = "aborted";
    r.reason = "interrupted (SIGINT)";
    const html = render(r);
    expect(html).toMatch(/<div class="verdict">ABORTED</);
    expect(html).not.toContain("banner status-passed");
    expect(html).toContain("interrupted (SIGINT)");
  });

  it("a passing run has no failures section", () => {
    const html = render(passingRun());
    expect(html).toContain(`class="banner status-passed"`);
    expect(html).not.toContain('id="failures"');
  });

  describe("secrets", () => {
    beforeEach(() => {
      clearSecrets();
      registerSecret("Zq9<s3cr&t");
      vi.stubEnv("PGPASSWORD", "Jm2envpass");
    });
    afterEach(() => {
      clearSecrets();
      vi.unstubAllEnvs();
    });

    it("does not leak, in text or in chart labels", () => {
      const r = loadRun();
      r.reason = "PGPASSWORD was Jm2envpass";
      r.checks[2]!.findings.push("password Zq9<s3cr&t");
      r.steps[1]!.name = "attach Zq9<s3cr&t";
      r.locks[0]!.relation = "public.Jm2envpass";
      r.context.settings.note = "postgres://app:Kx7url@db/prod";
      const html = render(r);
      for (const m of ["Zq9", "Jm2", "Kx7"]) expect(html).not.toContain(m);
      expect(html).toContain("***");
    });
  });
});
