/**
 * The charts of index.html, rendered in Node by ECharts' server-side SVG renderer: no browser, no script in
 * the page, the same report always gives the same SVG. Each builder returns undefined when its data is
 * absent, and the caller says why in words instead.
 */
import { createRequire } from "node:module";
import type * as EChartsModule from "echarts";
import type { EChartsOption } from "echarts";
import { BLOCKS_WRITES, isAccessExclusive, phaseLabel } from "./format.ts";
import type { LockHold, RunReport } from "./model.ts";

// The CommonJS build is one bundled file; the ESM entry is hundreds of modules whose loading added about a
// second to the start of every command (every one of them renders reports or imports this registry).
const echarts = createRequire(import.meta.url)("echarts") as typeof EChartsModule;

export const CHART_WIDTH = 960;
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

function timeAxis(min: number, max: number): EChartsOption["xAxis"] {
  return {
    type: "value",
    name: "s since start",
    nameLocation: "middle",
    nameGap: 26,
    min: Math.floor(min),
    max: Math.ceil(max),
    axisLabel: { formatter: "{value} s" },
  };
}

/** Phase bands and step starts, on the first series of a time chart. */
function phaseMarks(report: RunReport): { markArea?: object; markLine?: object } {
  const bands = report.phases
    .filter((p) => p.started_ms !== undefined && p.duration_ms !== undefined)
    .map((p, i) => [
      {
        name: phaseLabel(p.section, p.name),
        xAxis: s(p.started_ms!),
        itemStyle: { color: i % 2 === 0 ? "rgba(37,99,235,0.07)" : "rgba(124,58,237,0.09)" },
      },
      { xAxis: s(p.started_ms! + p.duration_ms!) },
    ]);
  const lines = report.steps
    .filter((st) => st.started_ms !== undefined)
    .map((st) => ({
      name: st.name,
      xAxis: s(st.started_ms!),
      lineStyle: { color: st.status === "error" ? "#dc2626" : "#6b7280", type: "dashed", width: 1 },
    }));
  return {
    ...(bands.length
      ? {
          markArea: {
            silent: true,
            label: { position: "insideTop", color: "#374151", fontSize: 11 },
            data: bands,
          },
        }
      : {}),
    ...(lines.length
      ? {
          markLine: {
            silent: true,
            symbol: "none",
            label: { formatter: "{b}", position: "insideEndTop", fontSize: 10, color: "#4b5563" },
            data: lines,
          },
        }
      : {}),
  };
}

/** The run's time extent in seconds over the given points plus the phases, so bands are never cut off. */
function extent(report: RunReport, points: number[]): [number, number] {
  const all = [...points];
  for (const p of report.phases) {
    if (p.started_ms === undefined) continue;
    all.push(s(p.started_ms), s(p.started_ms + (p.duration_ms ?? 0)));
  }
  return [Math.min(...all), Math.max(...all)];
}

const grid = { left: 70, right: 70, top: 50, bottom: 50 };
const legend = { top: 8, left: "center" };

export function latencyChart(report: RunReport): string | undefined {
  const series = report.load?.series ?? [];
  if (series.length === 0) return undefined;
  const [min, max] = extent(
    report,
    series.map((p) => p.t),
  );
  return renderChart({
    legend,
    grid,
    xAxis: timeAxis(min, max),
    yAxis: { type: "value", name: "ms", axisLabel: { formatter: "{value} ms" } },
    series: [
      {
        type: "line",
        name: "write p50",
        showSymbol: series.length < 60,
        data: series.map((p) => [p.t, p.write_p50]),
        ...phaseMarks(report),
      },
      {
        type: "line",
        name: "write p99",
        showSymbol: series.length < 60,
        data: series.map((p) => [p.t, p.write_p99]),
      },
      {
        type: "line",
        name: "read p99",
        showSymbol: series.length < 60,
        lineStyle: { type: "dotted" },
        data: series.map((p) => [p.t, p.read_p99]),
      },
    ],
  });
}

export function throughputChart(report: RunReport): string | undefined {
  const series = report.load?.series ?? [];
  if (series.length === 0) return undefined;
  const [min, max] = extent(
    report,
    series.map((p) => p.t),
  );
  return renderChart({
    legend,
    grid,
    xAxis: timeAxis(min, max),
    yAxis: [
      { type: "value", name: "ops/s" },
      { type: "value", name: "errors/s", splitLine: { show: false } },
    ],
    series: [
      { type: "line", name: "writes/s", data: series.map((p) => [p.t, p.writes]), ...phaseMarks(report) },
      { type: "line", name: "reads/s", data: series.map((p) => [p.t, p.reads]) },
      {
        type: "bar",
        name: "errors/s",
        yAxisIndex: 1,
        barMaxWidth: 14,
        itemStyle: { color: "#dc2626" },
        data: series.map((p) => [p.t, p.errors]),
      },
    ],
  });
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
    const color = isAccessExclusive(l.mode) ? "#dc2626" : l.in_transaction ? "#2563eb" : "#0891b2";
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
      itemStyle: { color: e.blocker_is_migration ? "#d97706" : "#9ca3af" },
    });
  }
  const [min, max] = extent(
    report,
    data.flatMap((d) => [d.value[1], d.value[2]]),
  );
  return renderChart(
    {
      grid: { ...grid, left: 400, top: 30 },
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
          ...phaseMarks(report),
        },
      ],
    },
    Math.max(140, 80 + rows.length * 34),
  );
}

export function tablesChart(report: RunReport): string | undefined {
  const samples = report.observations?.tables ?? [];
  if (samples.length === 0) return undefined;
  const tables = [...new Set(samples.map((t) => t.table))];
  const [min, max] = extent(
    report,
    samples.map((t) => s(t.t)),
  );
  return renderChart({
    legend: { ...legend, type: "scroll" },
    grid,
    xAxis: timeAxis(min, max),
    yAxis: [
      { type: "value", name: "live tuples" },
      { type: "value", name: "dead tuples", splitLine: { show: false } },
    ],
    series: tables.flatMap((table, i) => {
      const rows = samples.filter((t) => t.table === table).sort((a, b) => a.t - b.t);
      return [
        {
          type: "line" as const,
          name: `${table} live`,
          data: rows.map((t) => [s(t.t), t.live]),
          ...(i === 0 ? phaseMarks(report) : {}),
        },
        {
          type: "line" as const,
          name: `${table} dead`,
          yAxisIndex: 1,
          lineStyle: { type: "dashed" as const },
          data: rows.map((t) => [s(t.t), t.dead]),
        },
      ];
    }),
  });
}

/** One measured value over time, with the phase bands and step markers: WAL rate, replication lag. */
function timeLineChart(
  report: RunReport,
  points: [number, number][],
  opts: { unit: string; name: string; area?: boolean },
): string | undefined {
  if (points.length === 0) return undefined;
  const [min, max] = extent(
    report,
    points.map(([t]) => t),
  );
  return renderChart(
    {
      legend,
      grid,
      xAxis: timeAxis(min, max),
      yAxis: { type: "value", name: opts.unit },
      series: [
        {
          type: "line",
          name: opts.name,
          ...(opts.area ? { areaStyle: { opacity: 0.15 } } : {}),
          data: points,
          ...phaseMarks(report),
        },
      ],
    },
    240,
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
