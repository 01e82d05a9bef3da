/*
 * What tests of limits compute from recorded handler intervals and start times: the most intervals
 * open at one instant, and the most starts in any window.
 */

/** The most intervals open at one instant (an end at the same millisecond as a start closes first). */
export function maxOverlap(spans: ReadonlyArray<{ start: number; end: number }>): number {
  const points = spans.flatMap((s) => [
    { t: s.start, d: 1 },
    { t: s.end, d: -1 },
  ]);
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (open += p.d));
  return max;
}

/** The most starts in any window of `perMs` ms ending at a start: (t - per, t]. */
export function maxStartsInWindow(starts: readonly number[], perMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let best = 0;
  let from = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    while (sorted[from] <= sorted[i] - perMs) from += 1;
    best = Math.max(best, i - from + 1);
  }
  return best;
}
