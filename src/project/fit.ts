/**
 * Least-squares fitting of duration against rows (pure): the arithmetic behind `rehearse run --project-to`.
 * A phase is modelled as a + b·rows; its projection at production size carries the fit's standard error.
 */

export interface Point {
  x: number;
  y: number;
}

export interface LineFit {
  n: number;
  /** Intercept: the part that does not depend on rows (ms). */
  a: number;
  /** Slope: ms per row. */
  b: number;
  xMean: number;
  /** Σ(x − x̄)². */
  sxx: number;
  /**
   * Residual standard error √(SSR / (n − 2)): the noise around the line, in the unit of y. Undefined
   * (null) with two points: a line through two points has no residual to estimate noise from.
   */
  rse: number | null;
  /** Standard error of the slope, rse / √Sxx (null when rse is). */
  seSlope: number | null;
  xMin: number;
  xMax: number;
}

export class FitError extends Error {}

/** Ordinary least squares of y = a + b·x. Needs at least two distinct x. */
export function fitLine(points: readonly Point[]): LineFit {
  const n = points.length;
  if (n < 2) throw new FitError(`a line needs at least 2 points, got ${n}`);
  const xMean = points.reduce((s, p) => s + p.x, 0) / n;
  const yMean = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - xMean) ** 2;
    sxy += (p.x - xMean) * (p.y - yMean);
  }
  if (sxx === 0) throw new FitError("every point has the same row count: run at two or more scales");
  const b = sxy / sxx;
  const a = yMean - b * xMean;
  let rse: number | null = null;
  let seSlope: number | null = null;
  if (n > 2) {
    const ssr = points.reduce((s, p) => s + (p.y - (a + b * p.x)) ** 2, 0);
    rse = Math.sqrt(ssr / (n - 2));
    seSlope = rse / Math.sqrt(sxx);
  }
  const xs = points.map((p) => p.x);
  return { n, a, b, xMean, sxx, rse, seSlope, xMin: Math.min(...xs), xMax: Math.max(...xs) };
}

export interface Prediction {
  value: number;
  /**
   * Standard error of a new observation at x: rse·√(1 + 1/n + (x − x̄)²/Sxx). It grows with the distance
   * from the measured rows, as extrapolation should. Null when the fit has no noise estimate (two points).
   */
  se: number | null;
}

/** The fitted line's value at x, with its prediction standard error. */
export function predict(fit: LineFit, x: number): Prediction {
  const value = fit.a + fit.b * x;
  const se = fit.rse === null ? null : fit.rse * Math.sqrt(1 + 1 / fit.n + (x - fit.xMean) ** 2 / fit.sxx);
  return { value, se };
}

export interface FlatnessOptions {
  /** Growth over the measured range below this is timer and scheduling noise, whatever the fit says (ms). */
  floorMs: number;
  /** Growth must exceed this many residual standard errors. */
  sigmas: number;
}

export const DEFAULT_FLATNESS: FlatnessOptions = { floorMs: 10, sigmas: 2 };

export interface Classification {
  kind: "flat" | "grows";
  /** Fitted growth across the measured rows, b·(xMax − xMin), ms. */
  growthMs: number;
  /** What the growth was compared with (ms): max(floor, sigmas·rse, sigmas·seSlope·range). */
  noiseMs: number;
}

/**
 * Flat (metadata-only: duration does not depend on rows) when the fitted growth across the measured range
 * is within the noise; grows otherwise. The noise is the larger of an absolute floor and the fit's own
 * residual and slope uncertainty.
 */
export function classify(fit: LineFit, opts: FlatnessOptions = DEFAULT_FLATNESS): Classification {
  const range = fit.xMax - fit.xMin;
  const growthMs = fit.b * range;
  const noiseMs = Math.max(
    opts.floorMs,
    opts.sigmas * (fit.rse ?? 0),
    opts.sigmas * (fit.seSlope ?? 0) * range,
  );
  return { kind: growthMs > noiseMs ? "grows" : "flat", growthMs, noiseMs };
}

/** Sum of independent predictions: values add, standard errors add in quadrature (null if any is null). */
export function sumPredictions(parts: readonly Prediction[]): Prediction {
  const value = parts.reduce((s, p) => s + p.value, 0);
  const se = parts.some((p) => p.se === null)
    ? null
    : Math.sqrt(parts.reduce((s, p) => s + (p.se ?? 0) ** 2, 0));
  return { value, se };
}
