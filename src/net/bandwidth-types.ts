/**
 * The JSON shapes of the bandwidth caps (net/bandwidth-limit.ts, net/bandwidth-schedule.ts), in
 * a file without imports of values so that the API's types and the dashboard can use them.
 * @module
 */

/** A checked schedule entry: its rates in bytes per second (0: unlimited; unset: the global cap). */
export interface ScheduleEntry {
  /** Days the window starts on: `mon-fri`, `sat,sun`, `fri-mon` or `daily`. */
  days: string
  /** Start, `HH:MM` local time. */
  from: string
  /** End, `HH:MM` local time; before `from`: the window runs past midnight; equal: all day. */
  to: string
  maxUpload?: number
  maxDownload?: number
}

/** A node's caps: bytes per second, 0 unlimited. */
export interface BandwidthCaps {
  maxUpload: number
  maxDownload: number
}

/** What a `BandwidthLimiter` applies now and why. */
export interface BandwidthLimitsState extends BandwidthCaps {
  schedule: ScheduleEntry[]
  /** Index of the schedule entry in force now, or null (the global caps apply). */
  activeEntry: number | null
  /** The caps in force now. */
  effective: BandwidthCaps
}

/** `GET /api/v1/bandwidth/limits`: the limiter's state and the bytes counted so far. */
export interface BandwidthLimitsInfo extends BandwidthLimitsState {
  /** Bytes read and written over every transport connection since the node started. */
  totals: { bytesIn: number, bytesOut: number }
}
