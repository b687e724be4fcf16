/**
 * `peerd bandwidth [--max-upload RATE] [--max-download RATE]`: shows the node's upload and
 * download caps, their schedule and what is in force now; with a flag, changes the cap at once
 * (until the daemon stops: config.json and the daemon's flags are what a restart reads).
 */
import type { BandwidthLimitsInfo } from '../../api/types.ts'
import { UsageError } from '../../errors.ts'
import { parseByteRate } from '../../node/config.ts'
import { ApiClient } from '../client.ts'
import type { Command } from '../command.ts'
import { printJson, printLines } from '../output.ts'
import { formatBytes } from '../progress.ts'

/** `--max-upload`, `--max-download`, `get --max-rate`: bytes per second with an optional unit, 0 for unlimited. */
export function capOption (v: unknown, flag: string): number | undefined {
  if (v == null) return undefined
  const rate = parseByteRate(String(v))
  if (rate == null) throw new UsageError(`${flag} takes bytes per second, a number with an optional unit: 5MB, 500kB, 20Mbit (1000-based; bits are divided by 8), or 0 for unlimited, not "${String(v)}"`)
  return rate
}

/** A cap as people read it: 1000-based units, as the flags take them. */
export function formatCap (bytesPerSec: number | undefined): string {
  if (bytesPerSec == null || bytesPerSec === 0) return 'unlimited'
  for (const [size, unit] of [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']] as const) {
    if (bytesPerSec >= size) return `${Number((bytesPerSec / size).toFixed(2))} ${unit}/s (${Number((bytesPerSec * 8 / 1e6).toFixed(2))} Mbit/s)`
  }
  return `${bytesPerSec} B/s`
}

/** The lines `peerd bandwidth` prints. */
export function showLimits (s: BandwidthLimitsInfo): string[] {
  const active = s.activeEntry == null ? undefined : s.schedule[s.activeEntry]
  return [
    `upload:    ${formatCap(s.effective.maxUpload)}${active?.maxUpload != null ? ' (schedule)' : ''}`,
    `download:  ${formatCap(s.effective.maxDownload)}${active?.maxDownload != null ? ' (schedule)' : ''}`,
    `global:    upload ${formatCap(s.maxUpload)}, download ${formatCap(s.maxDownload)}`,
    s.schedule.length === 0 ? 'schedule:  none (bandwidthSchedule in config.json)' : 'schedule:',
    ...s.schedule.map((e, i) => `  ${i === s.activeEntry ? '*' : ' '} ${e.days} ${e.from}-${e.to}  upload ${e.maxUpload == null ? '(global)' : formatCap(e.maxUpload)}, download ${e.maxDownload == null ? '(global)' : formatCap(e.maxDownload)}`),
    `sent:      ${formatBytes(s.totals.bytesOut)}, received ${formatBytes(s.totals.bytesIn)} since start`
  ]
}

export const bandwidth: Command = {
  name: 'bandwidth',
  summary: 'show or change the upload and download caps',
  usage: 'bandwidth [--max-upload RATE] [--max-download RATE] [--json]',
  help: `  --max-upload RATE    cap on upload, bytes/s: 5MB, 500kB, 20Mbit; 0 = unlimited
  --max-download RATE  cap on download, as --max-upload
  A change is in force at once and lasts until the daemon stops (set maxUpload and
  maxDownload in DATA_DIR/config.json, or the daemon's flags, to keep it). Block transfers
  and onion relaying wait for the caps; chain sync and gossip go first and count toward them.`,
  options: {
    'max-upload': { type: 'string' },
    'max-download': { type: 'string' }
  },
  args: { min: 0, max: 0 },
  async run (ctx) {
    const maxUpload = capOption(ctx.values['max-upload'], '--max-upload')
    const maxDownload = capOption(ctx.values['max-download'], '--max-download')
    const api = new ApiClient(ctx.dataDir)
    const info = maxUpload == null && maxDownload == null
      ? await api.get<BandwidthLimitsInfo>('/api/v1/bandwidth/limits')
      : await api.post<BandwidthLimitsInfo>('/api/v1/bandwidth/limits', { ...(maxUpload != null ? { maxUpload } : {}), ...(maxDownload != null ? { maxDownload } : {}) })
    if (ctx.json) printJson(info)
    else printLines(...showLimits(info))
    return 0
  }
}
