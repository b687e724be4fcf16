/**
 * Circuit congestion control: TOR_VEGAS of proposal 324, as tor's `congestion_control_vegas.c`
 * runs it for exit circuits. Pure state with the clock passed in, so a test drives it with a
 * simulated bottleneck and a fake clock.
 *
 * The sender may have at most `cwnd` DATA cells unacknowledged (`inflight`); each circuit SENDME
 * acknowledges `sendmeInc` (31) of them. The sender stamps the time it sent every
 * `sendmeInc`-th cell; the SENDME for it gives one RTT sample. From the samples: an EWMA RTT, the
 * minimum RTT seen (the circuit's RTT with empty queues), and the bandwidth-delay product
 * `bdp = cwnd × minRtt / ewmaRtt`, the cells the path carries without queueing. `cwnd − bdp` is
 * then the cells sitting in queues along the path (`queueUse`), which Vegas keeps between alpha
 * and beta:
 *
 * - slow start: while `queueUse < gamma`, cwnd grows by one `sendmeInc` per SENDME (doubling per
 *   RTT; RFC 3742's limited slow start above `ssCwndCap`); the first time it is not, cwnd is set
 *   to `bdp + gamma` and slow start ends (also at `ssCwndMax`);
 * - steady state, once per cwnd of SENDMEs: `queueUse > delta` → cwnd = bdp + delta − inc;
 *   `> beta` → cwnd −= inc; `< alpha` → cwnd += inc; never below `cwndMin`.
 *
 * Defaults are tor's for exit circuits: alpha/beta/gamma/delta = 2/4/3/6 × 62 cells (62 is tor's
 * OUTBUF_CELLS, two TLS records of cells), cwnd starting at 124, minimum 124, `ssCwndCap` 500,
 * `ssCwndMax` 5000, and proposal 324's recommended `cwndInc` 31 once per cwnd. peerd adds a
 * `cwndMax` (tor's is INT32_MAX) so a sender's memory for SENDME tags stays bounded.
 *
 * ```ts
 * const cc = new VegasController()
 * while (cc.canSend()) { send(); cc.sent(now()) }
 * onSendme: cc.acknowledged(now())
 * ```
 * @module
 */
import { FlowControlError } from './stream-errors.ts'

/** Vegas's parameters, in cells (and counts of SENDMEs). */
export interface VegasParams {
  sendmeInc: number
  cwndInit: number
  cwndMin: number
  cwndMax: number
  /** Steady-state step. */
  cwndInc: number
  /** Slow-start step per SENDME, in percent of `sendmeInc`. */
  cwndIncPctSs: number
  /** Steady-state updates happen once per `cwnd / (sendmeInc × cwndIncRate)` SENDMEs. */
  cwndIncRate: number
  alpha: number
  beta: number
  gamma: number
  delta: number
  ssCwndCap: number
  ssCwndMax: number
  /** Most samples the EWMA weighs, and the percent of a cwnd of SENDMEs it weighs in steady state. */
  ewmaMax: number
  ewmaCwndPct: number
  /** Samples the EWMA weighs in slow start. */
  ewmaSs: number
}

/** tor's OUTBUF_CELLS: two TLS records of 31 cells. */
const OUTBUF_CELLS = 62

/** tor's defaults for exit circuits (three hops). */
export const VEGAS_EXIT: Readonly<VegasParams> = Object.freeze({
  sendmeInc: 31,
  cwndInit: 124,
  cwndMin: 124,
  cwndMax: 20_000,
  cwndInc: 31,
  cwndIncPctSs: 100,
  cwndIncRate: 1,
  alpha: 2 * OUTBUF_CELLS,
  beta: 4 * OUTBUF_CELLS,
  gamma: 3 * OUTBUF_CELLS,
  delta: 6 * OUTBUF_CELLS,
  ssCwndCap: 500,
  ssCwndMax: 5000,
  ewmaMax: 10,
  ewmaCwndPct: 50,
  ewmaSs: 2
})

/** The state of one circuit's sender; see the module header. */
export class VegasController {
  readonly params: Readonly<VegasParams>
  cwnd: number
  /** DATA cells sent and not yet acknowledged. */
  inflight = 0
  inSlowStart = true
  /** Milliseconds; 0 until the first sample. */
  minRtt = 0
  ewmaRtt = 0
  /** The latest bandwidth-delay product estimate, in cells. */
  bdp = 0
  /** SENDMEs until the next steady-state update. */
  private nextEvent = 0
  private readonly stamps: number[] = []

  constructor (params: Partial<VegasParams> = {}) {
    this.params = { ...VEGAS_EXIT, ...params }
    this.cwnd = this.params.cwndInit
  }

  /** Whether one more DATA cell may be sent now. */
  canSend (): boolean {
    return this.inflight < this.cwnd
  }

  /** Cells the path is estimated to hold in queues. */
  get queueUse (): number {
    return Math.max(0, this.cwnd - this.bdp)
  }

  /** One DATA cell was sent at `now` (ms). */
  sent (now: number): void {
    this.inflight++
    // the cell whose SENDME comes back: stamp it for the RTT sample
    if (this.inflight % this.params.sendmeInc === 0 && this.stamps.length < 4096) this.stamps.push(now)
  }

  /**
   * A circuit SENDME (already authenticated) arrived at `now`; `blocked`: this node's own link
   * queue for the circuit is full (tor's blocked channel, a congestion signal). {@link FlowControlError}
   * if nothing was in flight.
   */
  acknowledged (now: number, blocked = false): void {
    const p = this.params
    if (this.inflight < p.sendmeInc) throw new FlowControlError('a circuit SENDME for cells never sent')
    if (this.nextEvent > 0) this.nextEvent--
    const sentAt = this.stamps.shift()
    if (sentAt == null) {
      this.inflight -= p.sendmeInc
      return
    }
    this.sample(Math.max(now - sentAt, 0.001))
    const queueUse = this.queueUse
    if (this.inSlowStart) {
      if (queueUse < p.gamma && !blocked) {
        const inc = this.slowStartInc()
        this.cwnd += inc
        // once slow start grows slower than steady state would, it is over
        if (inc * this.sendmesPerCwnd() <= p.cwndInc) this.exitSlowStart()
      } else {
        this.cwnd = this.bdp + p.gamma
        this.exitSlowStart()
      }
      if (this.cwnd >= p.ssCwndMax) {
        this.cwnd = p.ssCwndMax
        this.exitSlowStart()
      }
    } else if (this.nextEvent === 0) {
      if (queueUse > p.delta) this.cwnd = this.bdp + p.delta - p.cwndInc
      else if (queueUse > p.beta || blocked) this.cwnd -= p.cwndInc
      else if (queueUse < p.alpha) this.cwnd += p.cwndInc
      this.nextEvent = this.updateRate()
    }
    this.cwnd = Math.min(Math.max(Math.round(this.cwnd), p.cwndMin), p.cwndMax)
    this.inflight -= p.sendmeInc
  }

  /** Takes one RTT sample into the EWMA, the minimum and the BDP. */
  private sample (rtt: number): void {
    const p = this.params
    const n = this.inSlowStart ? p.ewmaSs : Math.min(Math.max(Math.floor(p.ewmaCwndPct * this.cwnd / p.sendmeInc / 100), 2), p.ewmaMax)
    this.ewmaRtt = this.ewmaRtt === 0 ? rtt : (2 * rtt + (n - 1) * this.ewmaRtt) / (n + 1)
    // at the minimum cwnd the queues are as empty as Vegas makes them: re-learn the base RTT (tor's rtt_reset_pct of 100)
    if (this.minRtt === 0 || this.ewmaRtt < this.minRtt || (!this.inSlowStart && this.cwnd <= p.cwndMin)) this.minRtt = this.ewmaRtt
    this.bdp = Math.round(this.cwnd * this.minRtt / this.ewmaRtt)
  }

  private slowStartInc (): number {
    const p = this.params
    if (this.cwnd <= p.ssCwndCap) return Math.round(p.cwndIncPctSs * p.sendmeInc / 100)
    return Math.floor((p.sendmeInc * p.ssCwndCap + this.cwnd) / (2 * this.cwnd))
  }

  private sendmesPerCwnd (): number {
    return Math.floor((this.cwnd + this.params.sendmeInc / 2) / this.params.sendmeInc)
  }

  private updateRate (): number {
    const step = this.params.sendmeInc * this.params.cwndIncRate
    return Math.max(1, Math.floor((this.cwnd + step / 2) / step))
  }

  private exitSlowStart (): void {
    this.inSlowStart = false
    this.nextEvent = this.updateRate()
  }
}
