/**
 * Deterministic random streams for the seeder. Every (seed, table, column, chunk) gets its own generator, so
 * a chunk of rows can be produced alone, on any connection, in any order, and still come out the same.
 */

import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { writeUuid } from "./copy-text.ts";

export type Rng = RandomGenerator;

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;
const INV_TWO_POW_53 = 1 / 9007199254740992;

/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units; the salt picks one of several independent hashes. */
export function hash32(text: string, salt: number): number {
  let h = salt >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * The generator for one column of one chunk of one table. The whole 128-bit state comes from the hash (rather
 * than pure-rand's 32-bit `xoroshiro128plus(seed)`) because that constructor leaves most of the state fixed,
 * and neighbouring chunk seeds would then start out correlated. The column is part of the key so that adding
 * a column to a scenario does not reshuffle the values of the others.
 */
export function streamFor(seed: number, table: string, column: string, chunk: number): Rng {
  const key = JSON.stringify([seed, table, column, chunk]);
  const state = [
    hash32(key, 0x9e3779b9),
    hash32(key, 0x85ebca6b),
    hash32(key, 0xc2b2ae35),
    hash32(key, 0x27d4eb2f),
  ];
  // An all-zero state would emit zeros forever; a hash collision onto it is only theoretical, but cheap to rule out.
  if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1;
  return xoroshiro128plusFromState(state);
}

/** A float in [0, 1) with 32 bits of resolution: enough for picking among ≤ millions of outcomes, and one draw. */
export function unit32(rng: Rng): number {
  return (rng.next() >>> 0) * INV_TWO_POW_32;
}

/** A float in [0, 1) with 53 bits of resolution (two draws), for tails where 2^-32 steps would show. */
export function unit53(rng: Rng): number {
  const hi = (rng.next() >>> 0) >>> 5;
  const lo = (rng.next() >>> 0) >>> 6;
  return (hi * 67108864 + lo) * INV_TWO_POW_53;
}

/**
 * An integer in [0, size). Scaling a 32-bit draw biases outcomes by at most size/2^32 — invisible in test data,
 * and unlike rejection sampling it always costs exactly one draw, which keeps the hot loop branch-free.
 */
export function below(rng: Rng, size: number): number {
  return size <= TWO_POW_32 ? Math.floor(unit32(rng) * size) : Math.floor(unit53(rng) * size);
}

/** Draws a version-4-shaped UUID (not crypto.randomUUID, so a seed reproduces it) and writes its text. */
export function drawUuid(rng: Rng, buf: Uint8Array, pos: number): number {
  return writeUuid(buf, pos, rng.next(), rng.next(), rng.next(), rng.next());
}
