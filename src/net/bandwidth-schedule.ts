/**
 * Bandwidth schedule: entries such as `{ days: "mon-fri", from: "08:00", to: "18:00",
 * maxUpload: 500_000 }` that replace the global caps during their hours, in the machine's local
 * time, the first matching entry winning (as qBittorrent's "alternative rate limits" schedule).
 * Parsing here checks everything a user may type in `config.json` or the API and says what is
 * wrong; {@link activeEntry} is what the limiter asks each second.
 * @module
 */
import { InvalidArgumentError } from '../errors.ts'
import type { ScheduleEntry } from './bandwidth-types.ts'

export type { ScheduleEntry }

/** One schedule entry as given: rates in bytes per second (a number, or text with units when `parseRate` is given). */
export interface ScheduleEntryInput {
  /** Days the window starts on: `mon-fri`, `sat,sun`, `fri-mon`, `daily` or `*`. */
  days: string
  /** Start, `HH:MM` local time. */
  from: string
  /** End, `HH:MM` local time; before `from`: the window runs past midnight; equal: all day. */
  to: string
  /** Upload cap in the window, bytes/s; 0: unlimited; unset: the global cap. */
  maxUpload?: number | string
  /** Download cap in the window, bytes/s; 0: unlimited; unset: the global cap. */
  maxDownload?: number | string
}

/** Most entries in a schedule (one a weekday and hour range is far fewer). */
export const MAX_SCHEDULE_ENTRIES = 64
/** Largest cap accepted, bytes/s (10 GB/s, past any link a node has). */
export const MAX_RATE = 10_000_000_000
/** Smallest cap accepted but 0 (unlimited): below it one 1 MiB block takes minutes and peers give up waiting. */
export const MIN_RATE = 10_000

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

/** Checks a cap in bytes per second (0: unlimited, else {@link MIN_RATE} to {@link MAX_RATE}); `what` names it in the error. */
export function checkRate (value: unknown, what: string, parseRate?: (text: string) => number | undefined): number {
  const n = typeof value === 'string' && parseRate != null ? parseRate(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || (n !== 0 && n < MIN_RATE) || n < 0 || n > MAX_RATE) {
    throw new InvalidArgumentError(`${what} must be 0 (unlimited) or a whole number of bytes per second from ${MIN_RATE} to ${MAX_RATE}${parseRate != null ? ', or a rate with a unit such as 5MB or 20Mbit' : ''}, not ${JSON.stringify(value)}`)
  }
  return n
}

/** The weekdays (0 = Sunday) a `days` text names; throws {@link InvalidArgumentError}. */
export function parseDays (text: string): Set<number> {
  const days = new Set<number>()
  const t = text.trim().toLowerCase()
  if (t === '*' || t === 'daily' || t === 'all') return new Set([0, 1, 2, 3, 4, 5, 6])
  for (const part of t.split(',')) {
    const [a, b, ...rest] = part.trim().split('-')
    const from = DAY_NAMES.indexOf((a ?? '').trim().slice(0, 3))
    const to = b == null ? from : DAY_NAMES.indexOf(b.trim().slice(0, 3))
    if (rest.length > 0 || from < 0 || to < 0 || (a ?? '').trim().length < 3 || (b != null && b.trim().length < 3)) {
      throw new InvalidArgumentError(`"days" must name weekdays as mon, tue, … sun, in ranges (mon-fri) or lists (sat,sun), or be "daily", not ${JSON.stringify(text.slice(0, 40))}`)
    }
    // a range may wrap past Sunday (fri-mon)
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d)
      if (d === to) break
    }
  }
  return days
}

/** Minutes since midnight of `HH:MM`; throws {@link InvalidArgumentError}. */
export function parseClock (text: string, what: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim())
  const h = m == null ? NaN : Number(m[1])
  const min = m == null ? NaN : Number(m[2])
  if (!(h >= 0 && h <= 24 && min >= 0 && min < 60 && h * 60 + min <= 24 * 60)) {
    throw new InvalidArgumentError(`"${what}" must be a local time HH:MM from 00:00 to 24:00, not ${JSON.stringify(String(text).slice(0, 20))}`)
  }
  return h * 60 + min
}

/**
 * Checks a schedule (an array of entries); rates may be text with units when `parseRate` is
 * given. Throws {@link InvalidArgumentError} naming the entry and field.
 */
export function parseSchedule (value: unknown, parseRate?: (text: string) => number | undefined): ScheduleEntry[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError('bandwidthSchedule must be an array of entries such as { "days": "mon-fri", "from": "08:00", "to": "18:00", "maxUpload": 500000 }')
  if (value.length > MAX_SCHEDULE_ENTRIES) throw new InvalidArgumentError(`bandwidthSchedule has ${value.length} entries; at most ${MAX_SCHEDULE_ENTRIES}`)
  return value.map((raw: unknown, i) => {
    const at = `bandwidthSchedule[${i}]`
    if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgumentError(`${at} must be an object with "days", "from", "to" and "maxUpload" and/or "maxDownload"`)
    const e = raw as Record<string, unknown>
    for (const key of Object.keys(e)) {
      if (!['days', 'from', 'to', 'maxUpload', 'maxDownload'].includes(key)) throw new InvalidArgumentError(`${at}: unknown field "${key.slice(0, 40)}" (known: days, from, to, maxUpload, maxDownload)`)
    }
    for (const key of ['days', 'from', 'to'] as const) {
      const v = e[key]
      if (typeof v !== 'string' || v.length > 64) throw new InvalidArgumentError(`${at}: "${key}" must be a string of at most 64 characters`)
    }
    const entry: ScheduleEntry = { days: e.days as string, from: e.from as string, to: e.to as string }
    try {
      parseDays(entry.days)
      parseClock(entry.from, 'from')
      parseClock(entry.to, 'to')
    } catch (err) {
      throw new InvalidArgumentError(`${at}: ${(err as Error).message}`)
    }
    if (e.maxUpload != null) entry.maxUpload = checkRate(e.maxUpload, `${at}.maxUpload`, parseRate)
    if (e.maxDownload != null) entry.maxDownload = checkRate(e.maxDownload, `${at}.maxDownload`, parseRate)
    if (entry.maxUpload == null && entry.maxDownload == null) throw new InvalidArgumentError(`${at} sets neither "maxUpload" nor "maxDownload"`)
    return entry
  })
}

/** Whether `entry` covers the local time of `date`. */
export function entryMatches (entry: ScheduleEntry, date: Date): boolean {
  const days = parseDays(entry.days)
  const from = parseClock(entry.from, 'from')
  const to = parseClock(entry.to, 'to')
  const now = date.getHours() * 60 + date.getMinutes()
  const today = date.getDay()
  if (from === to) return days.has(today)
  if (from < to) return days.has(today) && now >= from && now < to
  // past midnight: the evening part on a listed day, the morning part on the day after one
  return (days.has(today) && now >= from) || (days.has((today + 6) % 7) && now < to)
}

/** Index of the first entry covering `date`, or undefined. */
export function activeEntry (schedule: readonly ScheduleEntry[], date: Date): number | undefined {
  const i = schedule.findIndex(e => entryMatches(e, date))
  return i < 0 ? undefined : i
}
