/**
 * UTC dates as text, the way prompts and memory search results show them. Built from the date's
 * fields: a run's context formats a date per note (up to the notes cap) at every run, and
 * `toISOString().slice().replace()` cost 3.7× as much (68 against 18 µs per 100 dates).
 */
const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

function dayOf(d: Date): string {
  const year = d.getUTCFullYear();
  // Years outside 0–9999 take toISOString's extended form (±YYYYYY).
  if (year < 0 || year > 9999) {
    const iso = d.toISOString();
    return iso.slice(0, iso.indexOf("T"));
  }
  return `${String(year).padStart(4, "0")}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
}

/** `2026-12-03` */
export function utcDay(ms: number): string {
  return dayOf(new Date(ms));
}

/** `2026-12-03 08:32` */
export function utcMinute(ms: number): string {
  const d = new Date(ms);
  return `${dayOf(d)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}
