/**
 * "Each step up close": one chart per migration/rollback step at the resolution report.json's
 * `load.detail[]` recorded it (10 ms buckets for a short cutover, coarser for a long backfill), so a 100 ms
 * lock shows as what it is instead of one point of a per-second line. The step is shaded blue, the
 * write-blocking locks the migration held meanwhile red; the legend is HTML under the chart.
 */
import type { EChartsOption } from "echarts";
import {
  CHART_WIDTH,
  GRID_BOTTOM,
  GRID_LEFT,
  GRID_RIGHT,
  legendHtml,
  maxOf,
  stepLabel,
  stepMarks,
} from "./chart-layout.ts";
import { BLOCKS_WRITES, formatDuration } from "./format.ts";
import { renderChart, valueAxis } from "./html-charts.ts";
import { formatLatency } from "./load-view.ts";
import type { LoadDetail, RunReport } from "./model.ts";

/** At most this many step charts: a long scenario keeps the ones where the writers hurt most. */
export const MAX_DETAIL_CHARTS = 12;
/** The step band's fill: the browser test finds the band by it. */
export const STEP_BAND = "#dbeafe";
const LOCK_BAND = "#dc2626";
const WAIT_BAND = "#f59e0b";
const PLOT_TOP = 28;
const COLORS = { p50: "#2563eb", p99: "#dc2626", max: "#7c2d12", writes: "#93c5fd", errors: "#b91c1c" };

const s = (ms: number) => Math.round(ms) / 1000;
export const detailLabel = (d: LoadDetail) => stepLabel(d.section, d.phase, d.step);

/** Spans clipped to the window and merged where they overlap, as [from, to] seconds. */
function bandsOf(spansMs: [number, number][], d: LoadDetail): [number, number][] {
  const spans = spansMs
    .filter(([a, b]) => b > d.from_ms && a < d.to_ms)
    .map(([a, b]) => [Math.max(a, d.from_ms), Math.min(b, d.to_ms)] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of spans) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged.map(([a, b]) => [s(a), s(b)]);
}

/** When the migration held a write-blocking lock during the window. */
const lockBands = (report: RunReport, d: LoadDetail) =>
  bandsOf(
    report.locks.filter((l) => BLOCKS_WRITES.has(l.mode)).map((l) => [l.acquired_ms, l.released_ms]),
    d,
  );

/** When the migration waited for a write-blocking lock: writers queue behind the request meanwhile. */
const waitBands = (report: RunReport, d: LoadDetail) =>
  bandsOf(
    (report.lock_waits ?? []).filter((w) => BLOCKS_WRITES.has(w.mode)).map((w) => [w.started_ms, w.ended_ms]),
    d,
  );

/** A strip just above the plot, like a Gantt bar: nothing drawn in the plot covers it, nor it the plot. */
const strip = (bands: [number, number][], color: string) => ({
  markArea: {
    silent: true,
    label: { show: false },
    itemStyle: { color },
    data: bands.map(([a, b]) => [
      { xAxis: a, y: PLOT_TOP - 12 },
      { xAxis: b, y: PLOT_TOP - 2 },
    ]),
  },
});

const worst = (d: LoadDetail) => maxOf(d.points, (p) => p.write_max);

/** The steps to draw: all when few; else the ones with errors, write-blocking locks or the worst latency. */
export function detailWindows(report: RunReport): LoadDetail[] {
  const all = (report.load?.detail ?? []).filter((d) => d.points.length > 0);
  if (all.length <= MAX_DETAIL_CHARTS) return all;
  const score = (d: LoadDetail) =>
    (d.points.some((p) => p.errors > 0) ? 2e9 : 0) + (lockBands(report, d).length ? 1e9 : 0) + worst(d);
  return [...all]
    .sort((a, b) => score(b) - score(a))
    .slice(0, MAX_DETAIL_CHARTS)
    .sort((a, b) => a.started_ms - b.started_ms);
}

function decimals(spanS: number): number {
  return spanS < 2 ? 2 : spanS < 20 ? 1 : 0;
}

/** The SVG and HTML legend of one step's chart. */
export function detailChart(report: RunReport, d: LoadDetail): string {
  const min = s(d.from_ms);
  const max = s(d.to_ms);
  const digits = decimals(max - min);
  const perS = 1000 / d.bucket_ms;
  const symbols = d.points.length <= 150;
  const bands = lockBands(report, d);
  const waits = waitBands(report, d);
  const svg = renderChart(
    {
      grid: { left: GRID_LEFT, right: GRID_RIGHT, top: PLOT_TOP, bottom: GRID_BOTTOM },
      xAxis: {
        type: "value",
        name: "s since start",
        nameLocation: "middle",
        nameGap: 26,
        min,
        max,
        axisLabel: { formatter: (v: number) => `${v.toFixed(digits)} s`, hideOverlap: true },
      },
      yAxis: [valueAxis("write latency, ms"), valueAxis("writes/s", "right")],
      series: [
        {
          type: "line",
          name: "write p99",
          color: COLORS.p99,
          showSymbol: symbols,
          symbolSize: 4,
          data: d.points.map((p) => [s(p.t_ms + d.bucket_ms / 2), p.write_p99]),
          markArea: {
            silent: true,
            label: { show: false },
            itemStyle: { color: STEP_BAND },
            data: [[{ xAxis: s(d.started_ms) }, { xAxis: s(d.ended_ms) }]],
          },
          z: 3,
        },
        {
          type: "line",
          name: "write max",
          color: COLORS.max,
          showSymbol: false,
          lineStyle: { type: "dotted" },
          data: d.points.map((p) => [s(p.t_ms + d.bucket_ms / 2), p.write_max]),
          ...(bands.length ? strip(bands, LOCK_BAND) : {}),
          z: 3,
        },
        {
          type: "line",
          name: "write p50",
          color: COLORS.p50,
          showSymbol: false,
          data: d.points.map((p) => [s(p.t_ms + d.bucket_ms / 2), p.write_p50]),
          ...(waits.length ? strip(waits, WAIT_BAND) : {}),
          z: 3,
        },
        {
          type: "bar",
          name: "writes/s",
          yAxisIndex: 1,
          color: COLORS.writes,
          barMaxWidth: 8,
          data: d.points.map((p) => [s(p.t_ms + d.bucket_ms / 2), Math.round(p.writes * perS)]),
          z: 1,
        },
        {
          type: "bar",
          name: "errors/s",
          yAxisIndex: 1,
          color: COLORS.errors,
          barMaxWidth: 8,
          data: d.points
            .filter((p) => p.errors > 0)
            .map((p) => [s(p.t_ms + d.bucket_ms / 2), Math.round(p.errors * perS)]),
          z: 2,
        },
      ],
    } as EChartsOption,
    242,
    CHART_WIDTH,
  );
  return (
    svg +
    legendHtml([
      { name: "write p99", color: COLORS.p99 },
      { name: "write max", color: COLORS.max, shape: "dotted" },
      { name: "write p50", color: COLORS.p50 },
      { name: "writes/s (right axis)", color: COLORS.writes, shape: "box" },
      ...(d.points.some((p) => p.errors > 0)
        ? [{ name: "errors/s (right axis)", color: COLORS.errors, shape: "box" as const }]
        : []),
      { name: "the step", color: STEP_BAND, shape: "box" },
      ...(bands.length
        ? [
            {
              name: "the migration holding a write-blocking lock (strip above)",
              color: LOCK_BAND,
              shape: "box" as const,
            },
          ]
        : []),
      ...(waits.length
        ? [
            {
              name: "the migration queued for one, writes behind it (strip above)",
              color: WAIT_BAND,
              shape: "box" as const,
            },
          ]
        : []),
    ])
  );
}

/** "cutover/swap_to_partitioned: 2.4 s in 20 ms buckets, 0.5 s either side; worst write 476 ms". */
export function detailCaption(d: LoadDetail): string {
  const inStep = d.points.filter((p) => p.t_ms + d.bucket_ms > d.started_ms && p.t_ms < d.ended_ms);
  const errors = inStep.reduce((n, p) => n + p.errors, 0);
  return (
    `${detailLabel(d)}: ${formatDuration(d.ended_ms - d.started_ms)} in ${formatDuration(d.bucket_ms)} buckets` +
    `; worst write ${formatLatency(worst(d))} ms` +
    (errors > 0 ? `, ${errors} failed writes in the step` : "")
  );
}

/** The numbered steps the whole-run charts mark, named once for all of them. */
export function stepKey(report: RunReport): string {
  const marks = stepMarks(report);
  if (marks.length === 0) return "";
  const items = marks.map(
    (m) =>
      `<li${m.error ? ' class="key-error"' : ""}><b>${m.n}</b> ${escape(m.label)} <span class="muted">${escape(
        formatDuration(m.at_ms),
      )}</span></li>`,
  );
  return `<div class="step-key"><span>Steps marked on the charts (start):</span><ol>${items.join("")}</ol></div>`;
}

const escape = (t: string) =>
  t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
