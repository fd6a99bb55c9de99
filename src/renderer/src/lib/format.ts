/** Small formatting helpers shared by views. */

const integer = new Intl.NumberFormat('en-US');

/** 12345 -> "12,345". */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** Bytes in the largest unit that keeps the number readable. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Seconds as "1h 02m", "3m 05s" or "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

/** Images per second with sensible precision. */
export function formatRate(rate: number): string {
  return rate >= 100 ? `${Math.round(rate)}` : rate.toFixed(1);
}

// Six significant digits show a measured target as typed (41.2, 0.00031, 12345.7) without float
// noise; whole digits are never rounded away (1234567, not 1,234,570): the more precise of the two wins.
const numeric = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6, maximumFractionDigits: 0, roundingPriority: 'morePrecision' } as Intl.NumberFormatOptions);

/** A numeric target or prediction: 41.2, 0.00031, "12,345.7". */
export function formatValue(n: number): string {
  return numeric.format(n);
}

/** A residual (predicted - actual) with its sign: "+3.1", "−0.4". */
export function formatSigned(n: number): string {
  return n > 0 ? `+${numeric.format(n)}` : n < 0 ? `−${numeric.format(-n)}` : '0';
}

/** A message a person can read from anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
