/** Formatting numbers for people: bytes, rates, durations, coins, ids and times. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** `1536` → `1.5 KiB`. */
export function formatBytes (n: number): string {
  let v = n
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++ }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u] ?? 'B'}`
}

/** Bytes per second. */
export function formatRate (n: number): string {
  return `${formatBytes(n)}/s`
}

/** A cap in bytes per second in the 1000-based units the rate flags take (`--onion-relay-rate`, `--max-upload`). */
export function formatCap (bytesPerSec: number): string {
  for (const [size, unit] of [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']] as const) {
    if (bytesPerSec >= size) return `${Number((bytesPerSec / size).toFixed(2))} ${unit}/s`
  }
  return `${bytesPerSec} B/s`
}

/** Seconds as `42 s`, `3 min 5 s`, `2 h 4 min` or `3 d 2 h`. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`
}

const COIN = 100_000_000n

/** Base units as coins, trailing zeros dropped: `125000000` → `1.25`. */
export function formatCoins (units: number): string {
  const u = BigInt(Math.trunc(units))
  const neg = u < 0n
  const abs = neg ? -u : u
  const frac = (abs % COIN).toString().padStart(8, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${abs / COIN}${frac === '' ? '' : `.${frac}`}`
}

/** A long id or hash shortened for a table: `12D3Koo…typ`. */
export function shortId (id: string, head = 8, tail = 6): string {
  return id.length <= head + tail + 1 ? id : `${id.slice(0, head)}…${id.slice(-tail)}`
}

/** A time (seconds or an ISO string) as `12 s ago`, `5 min ago`, … */
export function ago (when: number | string): string {
  const ms = typeof when === 'number' ? when * 1000 : Date.parse(when)
  return `${formatDuration((Date.now() - ms) / 1000)} ago`
}

/** A time in seconds since the epoch, as local date and time. */
export function formatTime (seconds: number): string {
  return new Date(seconds * 1000).toLocaleString()
}
