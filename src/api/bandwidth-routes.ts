/**
 * Bandwidth routes of the API: the node's upload and download caps, their schedule and which
 * entry is in force now (`GET /api/v1/bandwidth/limits`), and changing them while the node runs
 * (`POST`, in force at once). Changes last until the daemon stops: `config.json` and the flags
 * are what a restart reads. The body is checked here, at the edge, so a bad rate is a 400.
 * @module
 */
import { InvalidArgumentError } from '../errors.ts'
import { checkRate, parseSchedule } from '../net/bandwidth-schedule.ts'
import type { BandwidthCaps, ScheduleEntry } from '../net/bandwidth-types.ts'
import type { BandwidthLimitsInfo } from './types.ts'
import { parseByteRate } from '../node/config.ts'
import type { PeerdNode } from '../node/node.ts'
import type { Route } from './router.ts'

/** Reads `POST /api/v1/bandwidth/limits`'s body: rates as numbers (bytes/s) or text with units, 0 unlimited. */
export function limitsChangeOf (body: unknown): Partial<BandwidthCaps> & { schedule?: ScheduleEntry[] } {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('request body must be a JSON object with "maxUpload", "maxDownload" and/or "schedule"')
  const b = body as Record<string, unknown>
  for (const key of Object.keys(b)) {
    if (!['maxUpload', 'maxDownload', 'schedule'].includes(key)) throw new InvalidArgumentError(`unknown field "${key.slice(0, 40)}" (known: maxUpload, maxDownload, schedule)`)
  }
  const out: Partial<BandwidthCaps> & { schedule?: ScheduleEntry[] } = {}
  if (b.maxUpload != null) out.maxUpload = checkRate(b.maxUpload, '"maxUpload"', parseByteRate)
  if (b.maxDownload != null) out.maxDownload = checkRate(b.maxDownload, '"maxDownload"', parseByteRate)
  if (b.schedule != null) out.schedule = parseSchedule(b.schedule, parseByteRate)
  return out
}

/** The bandwidth routes. */
export function bandwidthRoutes (node: PeerdNode): Route[] {
  const info = (): BandwidthLimitsInfo => ({ ...node.limits.state(), totals: node.bandwidth.totals() })
  return [
    {
      method: 'GET',
      path: '/api/v1/bandwidth/limits',
      handler: info
    },
    {
      method: 'POST',
      path: '/api/v1/bandwidth/limits',
      handler: ({ body }) => {
        node.limits.set(limitsChangeOf(body))
        return info()
      }
    }
  ]
}
