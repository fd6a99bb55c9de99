/**
 * Spreadsheet formula injection (OWASP "CSV injection"): a cell that starts with = + - @ tab or CR
 * runs as a formula when a spreadsheet opens the CSV. Loupe writes such cells with a leading `'`
 * and strips it again on import. A cell that already starts with `'` is prefixed too, so every
 * text survives the round trip: restoreCell(neutraliseCell(x)) === x for every x.
 */

// The OWASP list, plus the quote itself so that a genuine leading quote round-trips.
const triggers = new Set(['=', '+', '-', '@', '\t', '\r', "'"]);

/** True when `text` would be written with a leading `'`. */
export function needsNeutralising(text: string): boolean {
  return text.length > 0 && triggers.has(text[0]!);
}

/** The cell as Loupe writes it to a CSV: a leading `'` before a formula trigger (or a quote). */
export function neutraliseCell(text: string): string {
  return needsNeutralising(text) ? `'${text}` : text;
}

/** The cell as it was before neutraliseCell; cells it did not touch come back as they are. */
export function restoreCell(text: string): string {
  return text.length > 1 && text[0] === "'" && triggers.has(text[1]!) ? text.slice(1) : text;
}
