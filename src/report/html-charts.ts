/**
 * The charts of index.html, rendered in Node by ECharts' server-side SVG renderer: no browser, no script in
 * the page, the same report always gives the same SVG. Each builder returns undefined when its data is
 * absent, and the caller says why in words instead.
 */
import { createRequire } from "node:module";
import type * as EChartsModule from "echarts";
import type { EChartsOption } from "echarts";
import {
  CHART_WIDTH,
  downsample,
  GRID_BOTTOM,
  GRID_LEFT,
  GRID_RIGHT,
  type Header,
  type LegendItem,
  legendHtml,
  maxOf,
  meanOf,
  minOf,
  timeHeader,
} from "./chart-layout.ts";
import { BLOCKS_WRITES, isAccessExclusive } from "./format.ts";
import type { LockHold, RunReport } from "./model.ts";

// The CommonJS build is one bundled file; the ESM entry is hundreds of modules whose loading added about a
// second to the start of every command (every one of them renders reports or imports this registry).
const echarts = createRequire(import.meta.url)("echarts") as typeof EChartsModule;

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563"];

/** One chart as an SVG string. Animation off: SSR renders the first frame, which must be the final one. */
export function renderChart(option: EChartsOption, height = 300, width = CHART_WIDTH): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption({ animation: false, color: PALETTE, textStyle: { fontFamily: FONT }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const s = (ms: number) => Math.round(ms) / 1000;

export function timeAxis(min: number, max: number, digits = 0): EChartsOption["xAxis"] {
  const f = 10 ** digits;
  return {
    type: "value",
    name: "s since start",
    nameLocation: "middle",
    nameGap: 26,
    min: Math.floor(min * f) / f,
    max: Math.ceil(max * f) / f,
    axisLabel: { formatter: "{value} s", hideOverlap: true },
  };
}

/** Tick labels short enough to stay clear of the axis name beside them: 2.5M, 250k, 1,200. */
function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Math.round((v / 1e6) * 100) / 100}M`;
  if (a >= 1e4) return `${Math.round((v / 1e3) * 10) / 10}k`;
  return v.toLocaleString("en-US");
}

/** A y axis named beside its tick labels (rotated, mid-height), never above the plot where the lanes are. */
export function valueAxis(name: string, side: "left" | "right" = "left", extra: object = {}): object {
  return {
    type: "value",
    name,
    nameLocation: "middle",
    nameGap: 62,
    nameRotate: side === "left" ? 90 : -90,
    ...(side === "right" ? { splitLine: { show: false } } : {}),
    axisLabel: { hideOverlap: true, formatter: compact },
    ...extra,
  };
}

/** The run's time extent in seconds over the given points plus the phases, so bands are never cut off. */
function extent(report: RunReport, points: number[]): [number, number] {
  const all = [...points];
  for (const p of report.phases) {
    if (p.started_ms === undefined) continue;
    all.push(s(p.started_ms), s(p.started_ms + (p.duration_ms ?? 0)));
  }
  return [Math.floor(Math.min(...all)), Math.ceil(Math.max(...all))];
}

/** A whole-run time chart: its lanes of phase and step labels on top, the legend in HTML under it. */
function timeChart(
  report: RunReport,
  times: number[],
  build: (marks: Header["marks"]) => { yAxis: unknown; series: unknown[] },
  legend: LegendItem[],
  opts: { height?: number; note?: string } = {},
): string {
  const [min, max] = extent(report, times);
  const header = timeHeader(report, min, max);
  const { yAxis, series } = build(header.marks);
  const svg = renderChart(
    {
      grid: { left: GRID_LEFT, right: GRID_RIGHT, top: header.top, bottom: GRID_BOTTOM },
      graphic: header.graphic,
      xAxis: timeAxis(min, max),
      yAxis,
      series,
    } as EChartsOption,
    (opts.height ?? 300) + header.top - 30,
  );
  const note = opts.note ? `<p class="chart-note muted">${escapeText(opts.note)}</p>` : "";
  return svg + legendHtml(legend) + note;
}

const escapeText = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The load's per-second series, downsampled past MAX_POINTS: worst second's latency and errors, fewest writes. */
function loadSeconds(report: RunReport) {
  const series = (report.load?.series ?? []).map((p) => ({ ...p, writes_min: p.writes }));
  return downsample(series, (b) => ({
    t: b[0]!.t,
    writes: meanOf(b, (p) => p.writes),
    writes_min: minOf(b, (p) => p.writes),
    reads: meanOf(b, (p) => p.reads),
    errors: maxOf(b, (p) => p.errors),
    write_p50: meanOf(b, (p) => p.write_p50),
    write_p99: maxOf(b, (p) => p.write_p99),
    read_p99: maxOf(b, (p) => p.read_p99),
    in_flight: maxOf(b, (p) => p.in_flight),
  }));
}

const round = (x: number) => Math.round(x * 100) / 100;

export function latencyChart(report: RunReport): string | undefined {
  const { points, every } = loadSeconds(report);
  if (points.length === 0) return undefined;
  const symbols = points.length < 60;
  const colors = { p50: "#2563eb", p99: "#dc2626", read: "#059669" };
  return timeChart(
    report,
    points.map((p) => p.t),
    (marks) => ({
      yAxis: valueAxis("ms", "left", { axisLabel: { formatter: "{value} ms", hideOverlap: true } }),
      series: [
        {
          type: "line",
          name: "write p50",
          color: colors.p50,
          showSymbol: symbols,
          data: points.map((p) => [p.t, round(p.write_p50)]),
          ...marks,
        },
        {
          type: "line",
          name: "write p99",
          color: colors.p99,
          showSymbol: symbols,
          data: points.map((p) => [p.t, p.write_p99]),
        },
        {
          type: "line",
          name: "read p99",
          color: colors.read,
          showSymbol: symbols,
          lineStyle: { type: "dotted" },
          data: points.map((p) => [p.t, p.read_p99]),
        },
      ],
    }),
    [
      { name: every > 1 ? "write p50 (mean)" : "write p50", color: colors.p50 },
      { name: every > 1 ? "write p99 (worst second)" : "write p99", color: colors.p99 },
      { name: every > 1 ? "read p99 (worst second)" : "read p99", color: colors.read, shape: "dotted" },
    ],
    every > 1 ? { note: downsampledNote(every) } : {},
  );
}

const downsampledNote = (every: number) =>
  `Downsampled to one point per ${every} s to keep the page small; each step at sub-second resolution is under "Each step up close".`;

export function throughputChart(report: RunReport): string | undefined {
  const { points, every } = loadSeconds(report);
  if (points.length === 0) return undefined;
  const colors = { writes: "#2563eb", min: "#93c5fd", reads: "#059669", errors: "#dc2626" };
  return timeChart(
    report,
    points.map((p) => p.t),
    (marks) => ({
      yAxis: [valueAxis("ops/s"), valueAxis("errors/s", "right")],
      series: [
        {
          type: "line",
          name: "writes/s",
          color: colors.writes,
          showSymbol: points.length < 60,
          data: points.map((p) => [p.t, round(p.writes)]),
          ...marks,
        },
        ...(every > 1
          ? [
              {
                type: "line",
                name: "writes/s lowest",
                color: colors.min,
                showSymbol: false,
                lineStyle: { type: "dotted" },
                data: points.map((p) => [p.t, p.writes_min]),
              },
            ]
          : []),
        {
          type: "line",
          name: "reads/s",
          color: colors.reads,
          showSymbol: points.length < 60,
          data: points.map((p) => [p.t, round(p.reads)]),
        },
        {
          type: "bar",
          name: "errors/s",
          yAxisIndex: 1,
          barMaxWidth: 14,
          itemStyle: { color: colors.errors },
          data: points.filter((p) => p.errors > 0).map((p) => [p.t, p.errors]),
        },
      ],
    }),
    [
      { name: every > 1 ? "writes/s (mean)" : "writes/s", color: colors.writes },
      ...(every > 1
        ? [{ name: "writes/s (lowest second)", color: colors.min, shape: "dotted" as const }]
        : []),
      { name: every > 1 ? "reads/s (mean)" : "reads/s", color: colors.reads },
      { name: every > 1 ? "errors/s (worst second)" : "errors/s", color: colors.errors, shape: "box" },
    ],
    every > 1 ? { note: downsampledNote(every) } : {},
  );
}

/** What a reader recognises: a relation the tracer could not name was dropped before it was sampled. */
const relationLabel = (name: string) => (name.startsWith("oid:") ? `dropped relation (${name})` : name);

/** One Gantt row per table and mode: its indexes and partitions folded in (they protect the same table). */
interface LockRow {
  owner: string;
  mode: string;
  folded: Set<string>;
  longest: number;
}

function lockRows(report: RunReport): { rows: LockRow[]; keyOf: (l: LockHold) => string; top?: LockHold } {
  const keyOf = (l: LockHold) => `${l.table ?? l.relation}\u0000${l.mode}`;
  const byKey = new Map<string, LockRow>();
  for (const l of report.locks) {
    const k = keyOf(l);
    let r = byKey.get(k);
    if (!r) byKey.set(k, (r = { owner: l.table ?? l.relation, mode: l.mode, folded: new Set(), longest: 0 }));
    if (l.table) r.folded.add(l.relation);
    r.longest = Math.max(r.longest, l.held_ms);
  }
  const hot = new Set(report.effects.filter((e) => e.hot).map((e) => e.relation));
  // Hot tables first (what the application writes), then the longest hold first.
  const rows = [...byKey.values()].sort(
    (a, b) => Number(hot.has(b.owner)) - Number(hot.has(a.owner)) || b.longest - a.longest,
  );
  // The lock that matters most: the longest one that blocks writes, on a hot table if any.
  const blocking = report.locks.filter((l) => BLOCKS_WRITES.has(l.mode));
  const top = [...blocking].sort(
    (a, b) =>
      Number(hot.has(b.table ?? b.relation)) - Number(hot.has(a.table ?? a.relation)) ||
      b.held_ms - a.held_ms,
  )[0];
  return top ? { rows, keyOf, top } : { rows, keyOf };
}

function lockRowLabel(r: LockRow, top: boolean): string {
  const n = r.folded.size;
  // Short enough for the axis: "Lock" said once by the chart's title, indexes and partitions abbreviated.
  const folded = n > 0 ? ` (+${n} idx/part)` : "";
  return `${top ? "▶ " : ""}${relationLabel(r.owner)} ${r.mode.replace(/Lock$/, "")}${folded}`;
}

/**
 * Lock holds (and the load requests that waited) as a Gantt: one row per table and mode, its indexes and
 * partitions folded in, hot tables first; the longest write-blocking lock outlined and marked ▶.
 */
export function lockChart(report: RunReport): string | undefined {
  const blocking = report.observations?.blocking ?? [];
  if (report.locks.length === 0 && blocking.length === 0) return undefined;
  const grouped = lockRows(report);
  const topKey = grouped.top ? grouped.keyOf(grouped.top) : undefined;
  const rows: string[] = grouped.rows.map((r) => lockRowLabel(r, `${r.owner}\u0000${r.mode}` === topKey));
  const rowOf = new Map(grouped.rows.map((r, i) => [`${r.owner}\u0000${r.mode}`, i]));
  const row = (label: string) => {
    let i = rows.indexOf(label);
    if (i < 0) i = rows.push(label) - 1;
    return i;
  };
  const data: { value: [number, number, number, number]; itemStyle: { color: string } }[] = [];
  for (const l of report.locks) {
    const color = isAccessExclusive(l.mode)
      ? LOCK_COLORS.exclusive
      : l.in_transaction
        ? LOCK_COLORS.inTransaction
        : LOCK_COLORS.sampled;
    data.push({
      value: [rowOf.get(grouped.keyOf(l))!, s(l.acquired_ms), s(l.released_ms), l === grouped.top ? 1 : 0],
      itemStyle: { color },
    });
  }
  for (const e of blocking) {
    const who = e.blocker_is_migration ? "waiting on migration" : "waiting on other";
    data.push({
      value: [
        row(`${who}: ${relationLabel(e.relation ?? "?")} ${e.mode}`),
        s(e.started_ms),
        s(e.ended_ms),
        0,
      ],
      itemStyle: { color: e.blocker_is_migration ? LOCK_COLORS.waitMigration : LOCK_COLORS.waitOther },
    });
  }
  const [min, max] = extent(
    report,
    data.flatMap((d) => [d.value[1], d.value[2]]),
  );
  const left = 400;
  const header = timeHeader(report, min, max, { left });
  const svg = renderChart(
    {
      grid: { left, right: GRID_RIGHT, top: header.top, bottom: GRID_BOTTOM },
      graphic: header.graphic,
      xAxis: timeAxis(min, max),
      yAxis: { type: "category", data: rows, inverse: true, axisLabel: { width: 385, overflow: "truncate" } },
      series: [
        {
          type: "custom",
          encode: { x: [1, 2], y: 0 },
          renderItem: (_params, api) => {
            const start = api.coord([api.value(1), api.value(0)]) as number[];
            const end = api.coord([api.value(2), api.value(0)]) as number[];
            const size = api.size?.([0, 1]) as number[];
            const h = Math.max(6, size[1]! * 0.6);
            return {
              type: "rect",
              shape: {
                x: start[0]!,
                y: start[1]! - h / 2,
                width: Math.max(2, end[0]! - start[0]!),
                height: h,
              },
              // The lock that matters most (value 3 = 1) is outlined.
              style: {
                fill: api.visual("color") as string,
                ...(api.value(3) === 1 ? { stroke: "#111827", lineWidth: 2 } : {}),
              },
            };
          },
          data,
          ...header.marks,
        },
      ],
    },
    Math.max(140, header.top + 50 + rows.length * 34),
  );
  const used = new Set(data.map((d) => d.itemStyle.color));
  const legend: LegendItem[] = [
    { name: "ACCESS EXCLUSIVE", color: LOCK_COLORS.exclusive, shape: "box" as const },
    { name: "other mode, in a transaction", color: LOCK_COLORS.inTransaction, shape: "box" as const },
    { name: "other mode, sampled outside a transaction", color: LOCK_COLORS.sampled, shape: "box" as const },
  ].filter((it) => used.has(it.color));
  legend.push(
    ...(blocking.some((e) => e.blocker_is_migration)
      ? [{ name: "load waiting on the migration", color: LOCK_COLORS.waitMigration, shape: "box" as const }]
      : []),
    ...(blocking.some((e) => !e.blocker_is_migration)
      ? [{ name: "load waiting on another session", color: LOCK_COLORS.waitOther, shape: "box" as const }]
      : []),
    ...(grouped.top
      ? [{ name: "▶ the longest write-blocking lock", color: "#111827", shape: "outline" as const }]
      : []),
  );
  return svg + legendHtml(legend);
}

const LOCK_COLORS = {
  exclusive: "#dc2626",
  inTransaction: "#2563eb",
  sampled: "#0891b2",
  waitMigration: "#d97706",
  waitOther: "#9ca3af",
};

export function tablesChart(report: RunReport): string | undefined {
  const samples = report.observations?.tables ?? [];
  if (samples.length === 0) return undefined;
  const tables = [...new Set(samples.map((t) => t.table))];
  let every = 1;
  const perTable = tables.map((table) => {
    const rows = samples.filter((t) => t.table === table).sort((a, b) => a.t - b.t);
    const d = downsample(rows, (b) => ({ ...b[b.length - 1]!, dead: maxOf(b, (t) => t.dead) }));
    every = Math.max(every, d.every);
    return d.points;
  });
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  return timeChart(
    report,
    samples.map((t) => s(t.t)),
    (marks) => ({
      yAxis: [valueAxis("live tuples"), valueAxis("dead tuples", "right")],
      series: tables.flatMap((table, i) => [
        {
          type: "line" as const,
          name: `${table} live`,
          color: color(i),
          showSymbol: perTable[i]!.length < 60,
          data: perTable[i]!.map((t) => [s(t.t), t.live]),
          ...(i === 0 ? marks : {}),
        },
        {
          type: "line" as const,
          name: `${table} dead`,
          color: color(i),
          yAxisIndex: 1,
          showSymbol: perTable[i]!.length < 60,
          lineStyle: { type: "dashed" as const },
          data: perTable[i]!.map((t) => [s(t.t), t.dead]),
        },
      ]),
    }),
    [
      { name: "live (left axis)", color: "#374151" },
      { name: "dead (right axis)", color: "#374151", shape: "dashed" as const },
      ...tables.map((table, i) => ({ name: table, color: color(i), shape: "box" as const })),
    ],
    every > 1
      ? { note: `Downsampled: one point per ${every} samples (the most dead tuples among them).` }
      : {},
  );
}

/** One measured value over time, with the phase bands and step markers: WAL rate, replication lag. */
function timeLineChart(
  report: RunReport,
  raw: [number, number][],
  opts: { unit: string; name: string; area?: boolean },
): string | undefined {
  if (raw.length === 0) return undefined;
  // The worst sample of each bucket: a WAL burst or a lag spike is what the chart is for.
  const { points, every } = downsample(raw, (b) => [b[0]![0], maxOf(b, (p) => p[1])] as [number, number]);
  return timeChart(
    report,
    points.map(([t]) => t),
    (marks) => ({
      yAxis: valueAxis(opts.unit),
      series: [
        {
          type: "line",
          name: opts.name,
          color: PALETTE[0],
          showSymbol: points.length < 60,
          ...(opts.area ? { areaStyle: { opacity: 0.15 } } : {}),
          data: points,
          ...marks,
        },
      ],
    }),
    [{ name: every > 1 ? `${opts.name} (highest of ${every} samples)` : opts.name, color: PALETTE[0]! }],
    { height: 240 },
  );
}

export function walChart(report: RunReport): string | undefined {
  const wal = report.observations?.wal ?? [];
  return timeLineChart(
    report,
    wal.map((w) => [s(w.t), Math.round((w.bytes_per_s / 1048576) * 100) / 100]),
    { unit: "MiB/s", name: "WAL MiB/s", area: true },
  );
}

export function replicationChart(report: RunReport): string | undefined {
  const lag = report.observations?.replication_lag ?? [];
  return timeLineChart(
    report,
    lag.map((l) => [s(l.t), l.lag_ms]),
    { unit: "ms", name: "replay lag ms" },
  );
}
