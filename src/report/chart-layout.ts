/**
 * Layout for the time charts of index.html, computed before ECharts draws, so no two labels overlap:
 *
 * - Phase names and step markers sit in lanes above the plot. A step is marked by its number (the page's
 *   step key names it), a phase by its name; each label takes the first lane where it clears the labels
 *   already there, and one that fits no lane is left out (the key still lists it).
 * - Legends are HTML under the chart (they wrap; an SVG legend pages itself "1/4" once it runs out of width).
 * - Long per-second series are downsampled to at most MAX_POINTS buckets, keeping spikes (a bucket's
 *   latency is its worst second) and dips (its fewest writes/s).
 *
 * Text widths are estimated, generously (0.65 em a character: DejaVu Sans, Chromium's fallback for
 * system-ui on Debian, averages about 0.6).
 */
import { phaseLabel } from "./format.ts";
import type { RunReport } from "./model.ts";

export const CHART_WIDTH = 960;
/** The plot's left and right margins: room for tick labels and a rotated axis name beside them. */
export const GRID_LEFT = 90;
export const GRID_RIGHT = 90;
export const GRID_BOTTOM = 50;
const LANE_H = 14;
const LABEL_FONT = 11;
const MAX_PHASE_LANES = 2;
const MAX_STEP_LANES = 3;

/** At most this many points per series of a whole-run chart (the plot is ~780 px wide). */
export const MAX_POINTS = 600;

export const textWidth = (text: string, fontSize: number) => text.length * fontSize * 0.65 + 4;

/** Where the time axis [min, max] (s) lands in pixels, for a chart with the given margins. */
export function xScale(min: number, max: number, left = GRID_LEFT, right = GRID_RIGHT, width = CHART_WIDTH) {
  const span = Math.max(max - min, 1e-9);
  return (t: number) => left + ((t - min) / span) * (width - left - right);
}

interface Label {
  text: string;
  /** Center x, px. */
  x: number;
  color: string;
  bold?: boolean;
}

/** Greedy lanes: each label in the first lane whose last label it clears; undefined when none has room. */
function lanes(labels: Label[], max: number, minX: number, maxX: number): { label: Label; lane: number }[] {
  const right: number[] = [];
  const out: { label: Label; lane: number }[] = [];
  for (const label of [...labels].sort((a, b) => a.x - b.x)) {
    const w = textWidth(label.text, LABEL_FONT);
    // Kept inside the chart: a label at the plot's edge is shifted in, not cut off.
    const x = Math.min(Math.max(label.x, minX + w / 2), maxX - w / 2);
    const lane = right.findIndex((r) => r + 4 <= x - w / 2);
    const use = lane >= 0 ? lane : right.length < max ? right.length : -1;
    if (use < 0) continue;
    right[use] = x + w / 2;
    out.push({ label: { ...label, x }, lane: use });
  }
  return out;
}

/** Marks closer than CLUSTER_PX to the first of a run of them share one label ("8–12"). */
const CLUSTER_PX = 6;

function clusters(marks: StepMark[], px: (m: StepMark) => number): StepMark[][] {
  const out: StepMark[][] = [];
  for (const m of marks) {
    const last = out[out.length - 1];
    if (last && px(m) - px(last[0]!) < CLUSTER_PX) last.push(m);
    else out.push([m]);
  }
  return out;
}

/** "cutover/swap", "rollback/reverse_cutover" (the rollback's one phase is named rollback: said once). */
export function stepLabel(section: "migration" | "rollback", phase: string, step: string): string {
  return section === "rollback" && phase === "rollback"
    ? `rollback/${step}`
    : `${phaseLabel(section, phase)}/${step}`;
}

export interface StepMark {
  /** 1-based, in run order: what the chart prints and the key explains. */
  n: number;
  label: string;
  at_ms: number;
  error: boolean;
}

/** The steps that ran, numbered in run order: the charts print the number, the step key the name. */
export function stepMarks(report: RunReport): StepMark[] {
  return report.steps
    .filter((st) => st.started_ms !== undefined)
    .sort((a, b) => a.started_ms! - b.started_ms!)
    .map((st, i) => ({
      n: i + 1,
      label: stepLabel(st.section, st.phase, st.name),
      at_ms: st.started_ms!,
      error: st.status === "error",
    }));
}

export interface Header {
  /** The plot's top, px: below the lanes. */
  top: number;
  /** ECharts graphic elements: the lane labels. */
  graphic: object[];
  /** Phase bands and step lines, unlabelled, for the first series. */
  marks: { markArea?: object; markLine?: object };
}

const s = (ms: number) => Math.round(ms) / 1000;

/**
 * Phase bands, step lines and their labels in lanes above a time chart whose x axis is [min, max] seconds.
 * `top0`: where the lanes start (below whatever the chart puts above them).
 */
export function timeHeader(
  report: RunReport,
  min: number,
  max: number,
  opts: { top0?: number; left?: number; right?: number } = {},
): Header {
  const left = opts.left ?? GRID_LEFT;
  const right = opts.right ?? GRID_RIGHT;
  const x = xScale(min, max, left, right);
  const phases = report.phases.filter((p) => p.started_ms !== undefined && p.duration_ms !== undefined);
  const phaseLabels = lanes(
    phases.map((p) => ({
      text: p.section === "rollback" && p.name === "rollback" ? "rollback" : phaseLabel(p.section, p.name),
      x: (x(s(p.started_ms!)) + x(s(p.started_ms! + p.duration_ms!))) / 2,
      color: "#374151",
      bold: true,
    })),
    MAX_PHASE_LANES,
    left,
    CHART_WIDTH - right,
  );
  const steps = stepMarks(report);
  const stepLabels = lanes(
    clusters(steps, (m) => x(s(m.at_ms))).map((c) => ({
      text: c.length === 1 ? String(c[0]!.n) : `${c[0]!.n}–${c[c.length - 1]!.n}`,
      x: x(s(c[0]!.at_ms)),
      color: c.some((m) => m.error) ? "#dc2626" : "#4b5563",
    })),
    MAX_STEP_LANES,
    left,
    CHART_WIDTH - right,
  );
  const top0 = opts.top0 ?? 6;
  const phaseRows = Math.max(0, ...phaseLabels.map((l) => l.lane + 1));
  const stepRows = Math.max(0, ...stepLabels.map((l) => l.lane + 1));
  const text = (l: Label, y: number) => ({
    type: "text",
    silent: true,
    x: l.x,
    y,
    style: {
      text: l.text,
      fill: l.color,
      fontSize: LABEL_FONT,
      fontWeight: l.bold ? "bold" : "normal",
      textAlign: "center",
      textVerticalAlign: "top",
    },
  });
  const graphic = [
    ...phaseLabels.map((l) => text(l.label, top0 + l.lane * LANE_H)),
    ...stepLabels.map((l) => text(l.label, top0 + (phaseRows + l.lane) * LANE_H)),
  ];
  const bands = phases.map((p, i) => [
    {
      xAxis: s(p.started_ms!),
      itemStyle: { color: i % 2 === 0 ? "rgba(37,99,235,0.07)" : "rgba(124,58,237,0.09)" },
    },
    { xAxis: s(p.started_ms! + p.duration_ms!) },
  ]);
  const lines = steps.map((m) => ({
    xAxis: s(m.at_ms),
    lineStyle: { color: m.error ? "#dc2626" : "#6b7280", type: "dashed", width: 1 },
  }));
  return {
    top: top0 + (phaseRows + stepRows) * LANE_H + 6,
    graphic,
    marks: {
      ...(bands.length ? { markArea: { silent: true, label: { show: false }, data: bands } } : {}),
      ...(lines.length
        ? { markLine: { silent: true, symbol: "none", label: { show: false }, data: lines } }
        : {}),
    },
  };
}

// ------------------------------------------------------------------ legends

export interface LegendItem {
  name: string;
  color: string;
  /** How the swatch is drawn: a line (solid, dashed, dotted), a filled box, or an outlined box. */
  shape?: "solid" | "dashed" | "dotted" | "box" | "outline";
}

const attr = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The legend as an HTML list under the chart: it wraps instead of paging. */
export function legendHtml(items: LegendItem[]): string {
  if (items.length === 0) return "";
  const li = items.map((it) => {
    const shape = it.shape ?? "solid";
    const style =
      shape === "box"
        ? `background:${it.color}`
        : shape === "outline"
          ? `border:2px solid ${it.color}`
          : `border-top:3px ${shape} ${it.color};height:0`;
    return `<li><span class="swatch swatch-${shape}" style="${attr(style)}"></span>${attr(it.name)}</li>`;
  });
  return `<ul class="legend">${li.join("")}</ul>`;
}

// ------------------------------------------------------------------ downsampling

/**
 * Groups consecutive points into at most `max` buckets of equal count and merges each with `merge`; the
 * series itself when it is short enough. Returns the points and the bucket size (1: untouched).
 */
export function downsample<T>(
  points: T[],
  merge: (bucket: T[]) => T,
  max = MAX_POINTS,
): { points: T[]; every: number } {
  if (points.length <= max) return { points, every: 1 };
  const every = Math.ceil(points.length / max);
  const out: T[] = [];
  for (let i = 0; i < points.length; i += every) out.push(merge(points.slice(i, i + every)));
  return { points: out, every };
}

export const maxOf = <T>(xs: T[], f: (x: T) => number) => xs.reduce((m, x) => Math.max(m, f(x)), -Infinity);
export const minOf = <T>(xs: T[], f: (x: T) => number) => xs.reduce((m, x) => Math.min(m, f(x)), Infinity);
export const meanOf = <T>(xs: T[], f: (x: T) => number) =>
  xs.length === 0 ? 0 : xs.reduce((m, x) => m + f(x), 0) / xs.length;
