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
import { isAccessExclusive } from "./format.ts";
import { lockView, relationLabel, type LockGroup } from "./lock-view.ts";
import type { RunReport } from "./model.ts";

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

const LOCK_COLORS = {
  exclusive: "#dc2626",
  inTransaction: "#2563eb",
  sampled: "#0891b2",
  waitMigration: "#d97706",
  waitOther: "#9ca3af",
  top: "#111827",
};

/** How a Gantt bar is drawn: a hold filled, the migration's wait to acquire outlined, the load's waits filled. */
export type LockBarKind = "hold" | "top-hold" | "wait" | "load-on-migration" | "load-on-other";

export interface LockBar {
  from_ms: number;
  to_ms: number;
  kind: LockBarKind;
  color: string;
}

export interface LockChartRow {
  label: string;
  bars: LockBar[];
  /** Indexes and partitions folded into the row ("(+n)" in its label). */
  folded: number;
  /** The row of the longest write-blocking lock (▶). */
  top: boolean;
}

const holdColor = (mode: string, inTransaction = true) =>
  isAccessExclusive(mode)
    ? LOCK_COLORS.exclusive
    : inTransaction
      ? LOCK_COLORS.inTransaction
      : LOCK_COLORS.sampled;

const shortMode = (mode: string) => mode.replace(/Lock$/, "");

/** "▶ public.ledger AccessExclusive (+19) · 8 waiting": short enough for the axis ("Lock" said by the title). */
function groupLabel(g: LockGroup, top: boolean): string {
  const folded = g.covers.length > 0 ? ` (+${g.covers.length})` : "";
  const waiting = g.loadWaiting > 0 ? ` · ${g.loadWaiting} waiting` : "";
  return `${top ? "▶ " : ""}${relationLabel(g.owner)} ${shortMode(g.mode)}${folded}${waiting}`;
}

/**
 * The Gantt's rows, top to bottom: one per table and mode (lockView's order), the migration's waits to
 * acquire before its holds in the same row, and the load requests that queued behind a group in the row
 * right under it; load waits no group covers last.
 */
export function lockChartRows(report: RunReport): LockChartRow[] {
  const view = lockView(report);
  const rows: LockChartRow[] = [];
  for (const g of view.groups) {
    const top = g === view.top;
    rows.push({
      label: groupLabel(g, top),
      folded: g.covers.length,
      top,
      bars: [
        // Waits first and the outlined hold last: later bars are drawn over earlier ones.
        ...g.waits.map((w) => ({
          from_ms: w.from_ms,
          to_ms: w.to_ms,
          kind: "wait" as const,
          color: holdColor(g.mode),
        })),
        ...g.holds
          .filter((l) => l !== view.topHold)
          .map((l) => ({
            from_ms: l.acquired_ms,
            to_ms: l.released_ms,
            kind: "hold" as const,
            color: holdColor(l.mode, l.in_transaction),
          })),
        ...(top && view.topHold
          ? [
              {
                from_ms: view.topHold.acquired_ms,
                to_ms: view.topHold.released_ms,
                kind: "top-hold" as const,
                color: holdColor(view.topHold.mode, view.topHold.in_transaction),
              },
            ]
          : []),
      ],
    });
    if (g.waiters.length > 0) {
      rows.push({
        label: "↳ load requests queued behind it",
        folded: 0,
        top: false,
        bars: g.waiters.map((e) => ({
          from_ms: e.started_ms,
          to_ms: e.ended_ms,
          kind: "load-on-migration" as const,
          color: LOCK_COLORS.waitMigration,
        })),
      });
    }
  }
  const other = new Map<string, LockChartRow>();
  for (const e of view.otherWaiters) {
    const who = e.blocker_is_migration ? "load waiting on the migration" : "load waiting on another session";
    const label = `${who}: ${e.relation ? relationLabel(e.relation) : "a row or transaction"} ${shortMode(e.mode)}`;
    let row = other.get(label);
    if (!row) other.set(label, (row = { label, bars: [], folded: 0, top: false }));
    row.bars.push({
      from_ms: e.started_ms,
      to_ms: e.ended_ms,
      kind: e.blocker_is_migration ? "load-on-migration" : "load-on-other",
      color: e.blocker_is_migration ? LOCK_COLORS.waitMigration : LOCK_COLORS.waitOther,
    });
  }
  return [...rows, ...other.values()];
}

const BAR_CODE: Record<LockBarKind, number> = {
  hold: 0,
  "top-hold": 1,
  wait: 2,
  "load-on-migration": 3,
  "load-on-other": 4,
};

/**
 * Lock holds, the migration's waits to acquire them and the load requests that queued as a Gantt: one row
 * per table and mode, its indexes and partitions folded in, tables the application uses first; the longest
 * write-blocking lock marked ▶ and outlined, with the load that queued behind it in the row under it.
 */
export function lockChart(report: RunReport): string | undefined {
  const rows = lockChartRows(report);
  if (rows.length === 0) return undefined;
  const data = rows.flatMap((r, i) =>
    r.bars.map((b) => ({
      value: [i, s(b.from_ms), s(b.to_ms), BAR_CODE[b.kind]] as [number, number, number, number],
      itemStyle: { color: b.color },
    })),
  );
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
      yAxis: {
        type: "category",
        data: rows.map((r) => r.label),
        inverse: true,
        axisLabel: { width: 385, overflow: "truncate" },
      },
      series: [
        {
          type: "custom",
          encode: { x: [1, 2], y: 0 },
          renderItem: (_params, api) => {
            const start = api.coord([api.value(1), api.value(0)]) as number[];
            const end = api.coord([api.value(2), api.value(0)]) as number[];
            const size = api.size?.([0, 1]) as number[];
            const h = Math.max(6, size[1]! * 0.6);
            const code = api.value(3);
            const color = api.visual("color") as string;
            const shape = {
              x: start[0]!,
              y: start[1]! - h / 2,
              width: Math.max(2, end[0]! - start[0]!),
              height: h,
            };
            // A wait is an empty box in its mode's colour (the lock not held yet); the top hold is outlined.
            if (code === BAR_CODE.wait) {
              const inset = {
                x: shape.x + 0.75,
                y: shape.y + 0.75,
                width: Math.max(1, shape.width - 1.5),
                height: h - 1.5,
              };
              return { type: "rect", shape: inset, style: { fill: "none", stroke: color, lineWidth: 1.5 } };
            }
            return {
              type: "rect",
              shape,
              style: {
                fill: color,
                ...(code === BAR_CODE["top-hold"] ? { stroke: LOCK_COLORS.top, lineWidth: 2 } : {}),
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
  const bars = rows.flatMap((r) => r.bars);
  const has = (kind: LockBarKind, color?: string) =>
    bars.some((b) => b.kind === kind && (color === undefined || b.color === color));
  const held = (color: string) => has("hold", color) || has("top-hold", color);
  const waitColors = new Set(bars.filter((b) => b.kind === "wait").map((b) => b.color));
  const legend: LegendItem[] = [
    ...(held(LOCK_COLORS.exclusive)
      ? [{ name: "holding ACCESS EXCLUSIVE", color: LOCK_COLORS.exclusive }]
      : []),
    ...(held(LOCK_COLORS.inTransaction)
      ? [{ name: "holding another mode, in a transaction", color: LOCK_COLORS.inTransaction }]
      : []),
    ...(held(LOCK_COLORS.sampled)
      ? [{ name: "holding another mode, sampled outside a transaction", color: LOCK_COLORS.sampled }]
      : []),
  ].map((it) => ({ ...it, shape: "box" as const }));
  if (waitColors.size > 0) {
    legend.push({
      name: "the migration waiting to acquire it (outlined: not held yet)",
      color: waitColors.size === 1 ? [...waitColors][0]! : "#6b7280",
      shape: "outline",
    });
  }
  if (has("load-on-migration"))
    legend.push({
      name: "load requests waiting on the migration",
      color: LOCK_COLORS.waitMigration,
      shape: "box",
    });
  if (has("load-on-other"))
    legend.push({
      name: "load requests waiting on another session",
      color: LOCK_COLORS.waitOther,
      shape: "box",
    });
  if (rows.some((r) => r.top))
    legend.push({ name: "▶ the longest write-blocking lock", color: LOCK_COLORS.top, shape: "outline" });
  const folded = rows.some((r) => r.folded > 0)
    ? `<p class="chart-note muted">(+n): the table's indexes and partitions locked in the same mode, folded into its row; "Locks held" below lists them.</p>`
    : "";
  return svg + legendHtml(legend) + folded;
}

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
