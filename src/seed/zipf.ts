/**
 * Zipf-distributed ranks by rejection-inversion (W. Hörmann, G. Derflinger, "Rejection-inversion to generate
 * variates from monotone discrete distributions", ACM TOMACS 6(3), 1996), following Apache Commons RNG's
 * RejectionInversionZipfSampler. It needs no table, so a key space of a billion accounts costs the same as
 * ten, and a draw takes O(1) expected time (about 1.1 uniform draws for the usual exponents).
 */
import { type Rng, unit53 } from "./random.ts";

/** Returns a sampler of ranks 1..n with P(k) ∝ k^-s; rank 1 is the most frequent. Requires n ≥ 1, s > 0. */
export function zipfSampler(n: number, s: number): (rng: Rng) => number {
  if (!(n >= 1) || !Number.isSafeInteger(n))
    throw new RangeError(`zipf: key space size must be a positive integer, got ${n}`);
  if (!(s > 0)) throw new RangeError(`zipf: exponent must be > 0, got ${s}`);
  if (n === 1) return () => 1;

  // (e^x - 1)/x and log(1 + x)/x, with Taylor series near 0 where the closed forms lose precision.
  const helper1 = (x: number): number =>
    Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
  const helper2 = (x: number): number =>
    Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x * (1 / 3) * (1 + 0.25 * x));
  // H(x) = ∫ h, the integral of the hat function h(x) = x^-s, and its inverse.
  const hIntegral = (x: number): number => {
    const logX = Math.log(x);
    return helper2((1 - s) * logX) * logX;
  };
  const h = (x: number): number => Math.exp(-s * Math.log(x));
  const hIntegralInverse = (x: number): number => {
    let t = x * (1 - s);
    if (t < -1) t = -1; // guards rounding just past the domain for large s
    return Math.exp(helper1(t) * x);
  };

  const hIntegralX1 = hIntegral(1.5) - 1;
  const hIntegralN = hIntegral(n + 0.5);
  const squeeze = 2 - hIntegralInverse(hIntegral(2.5) - h(2));

  return (rng: Rng): number => {
    for (;;) {
      const u = hIntegralN + unit53(rng) * (hIntegralX1 - hIntegralN);
      const x = hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > n) k = n;
      // Accept at once inside the squeeze region; otherwise compare against the exact bucket boundary.
      if (k - x <= squeeze || u >= hIntegral(k + 0.5) - h(k)) return k;
    }
  };
}
