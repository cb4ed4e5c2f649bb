// Time as users write it: durations (`90s 30m 12h 7d`, or a plain number of seconds) and
// ISO 8601 instants. Every quantity is bounded by 2147483647 seconds
// (the UWS executionDuration range, about 68 years), so a duration added to "now" always
// stays inside what a JS Date can hold. Instants must carry `Z` or an offset: a local time
// would mean something different on every machine and under cron's TZ.
// The `...Text` functions return null on bad input so the definitions loader can attach a
// file position to the message; the `parse...` ones throw the user-facing error (exit 2).

import { usageError } from '../errors.js';

export const MAX_SECONDS = 2147483647;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION_PATTERN = /^(\d+)([smhd]?)$/;

/** Seconds for `90s`, `30m`, `12h`, `7d`, `3600` or `0`; null when the text is none of them. */
export function durationSeconds(text: string): number | null {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's']!;
  return seconds <= MAX_SECONDS ? seconds : null;
}

/** What a duration may be, for a lifetime (where 0 means keep forever). */
export const DURATION_HINT = `a duration (90s, 30m, 12h, 7d, or whole seconds; 0 = never; at most ${MAX_SECONDS} seconds)`;
/** What a duration may be, for any other quantity. */
export const DURATION_FORMS = `a duration (90s, 30m, 12h, 7d, or whole seconds; 0 to ${MAX_SECONDS} seconds)`;

/**
 * The one parser of durations on the command line (SPEC §3): `--execution-duration`,
 * `--timeout`, `--older-than`, ... all take `90`, `90s`, `30m`, `12h` or `7d`.
 */
export function parseDuration(text: string, what: string): number {
  const seconds = durationSeconds(text);
  if (seconds === null) throw usageError(`${what}: ${JSON.stringify(text)} is not ${DURATION_FORMS}`);
  return seconds;
}

// YYYY-MM-DDTHH:MM[:SS[.fraction]] followed by Z or an offset (+HH:MM, +HHMM, +HH).
const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Milliseconds since the epoch of a calendar date, or null when the date does not exist. */
export function calendarDateMs(year: number, month: number, day: number): number | null {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // setUTCFullYear, unlike Date.UTC, keeps years 0-99
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return exists ? date.getTime() : null;
}

export type InstantParse =
  | { ok: true; ms: number }
  | { ok: false; reason: 'syntax' | 'no-offset' | 'out-of-range' };

/** An ISO 8601 instant that names one real moment: a real calendar day, a real time, an offset. */
export function parseInstantText(text: string): InstantParse {
  const match = INSTANT_PATTERN.exec(text);
  if (!match) return { ok: false, reason: 'syntax' };
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  if (zone === undefined) return { ok: false, reason: 'no-offset' };
  const dayMs = calendarDateMs(Number(y), Number(mo), Number(d));
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  if (dayMs === null || hour > 23 || minute > 59 || second > 59) return { ok: false, reason: 'out-of-range' };
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMins = Number(digits.slice(2) || '0');
    if (offsetHours > 23 || offsetMins > 59) return { ok: false, reason: 'out-of-range' };
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  const ms = dayMs + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
  return Number.isFinite(new Date(ms).getTime()) ? { ok: true, ms } : { ok: false, reason: 'out-of-range' };
}

/**
 * `--destruction WHEN`: an instant, a duration counted from `now`, or 0 (never, null).
 * An instant that is already past is refused rather than destroying the job at the next tick.
 */
export function parseDestruction(text: string, now: Date): string | null {
  const seconds = durationSeconds(text);
  if (seconds !== null) return seconds === 0 ? null : new Date(now.getTime() + seconds * 1000).toISOString();
  const instant = parseInstantText(text);
  if (!instant.ok) {
    const why = instant.reason === 'no-offset' ? ' (an instant needs Z or an offset such as +02:00)' : '';
    throw usageError(`--destruction: ${JSON.stringify(text)} is not an ISO 8601 instant or ${DURATION_HINT}${why}`);
  }
  if (instant.ms <= now.getTime()) throw usageError(`--destruction ${text} is in the past`);
  return new Date(instant.ms).toISOString();
}

/**
 * `--not-before WHEN`: an instant, or a duration counted from `now`. An instant already past
 * is accepted (the job may start at once): a cron script that computes one and runs a
 * moment late must not fail.
 */
export function parseNotBefore(text: string, now: Date): string {
  const seconds = durationSeconds(text);
  if (seconds !== null) return new Date(now.getTime() + seconds * 1000).toISOString();
  const instant = parseInstantText(text);
  if (!instant.ok) {
    const why = instant.reason === 'no-offset' ? ' (an instant needs Z or an offset such as +02:00)' : '';
    throw usageError(`--not-before: ${JSON.stringify(text)} is not an ISO 8601 instant or ${DURATION_FORMS}${why}`);
  }
  return new Date(instant.ms).toISOString();
}
