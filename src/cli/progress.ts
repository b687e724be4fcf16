/** A progress bar for long transfers: bytes, percentage, rate, peers and ETA, on a TTY. */

/** Formats a byte count with binary units. */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i] ?? 'B'}`
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration (s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--'
  const t = Math.round(s)
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor(t % 3600 / 60)).padStart(2, '0')}m`
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`
  return `${t}s`
}

/** One progress line, sized to `width` columns. */
export function renderProgress (p: { bytes: number, total: number, rate: number, peers: number }, width = 80): string {
  const pct = p.total > 0 ? Math.min(1, p.bytes / p.total) : 0
  const eta = p.rate > 0 && p.total > 0 ? (p.total - p.bytes) / p.rate : NaN
  const info = ` ${(pct * 100).toFixed(0).padStart(3)}% ${formatBytes(p.bytes)}/${formatBytes(p.total)} ${formatBytes(p.rate)}/s ${p.peers} peer${p.peers === 1 ? '' : 's'} ETA ${formatDuration(eta)}`
  const barWidth = Math.max(10, width - info.length - 2)
  const filled = Math.round(barWidth * pct)
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${info}`
}

/** Redraws a progress line on stderr when it is a TTY; otherwise does nothing. */
export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true
  private last = 0

  update (p: { bytes: number, total: number, rate: number, peers: number }): void {
    if (!this.tty) return
    const now = Date.now()
    if (now - this.last < 100) return
    this.last = now
    process.stderr.write('\r' + renderProgress(p, process.stderr.columns ?? 80) + '\x1b[K')
  }

  done (): void {
    if (this.tty && this.last !== 0) process.stderr.write('\r\x1b[K')
  }
}
