/**
 * Vegas congestion control (proposal 324) against a simulated bottleneck with a fake clock: one
 * FIFO link that serves `rate` cells a millisecond, a base round trip of `rtt` ms, and a SENDME
 * for every 31st cell. The sender never has more than cwnd cells in flight; cwnd grows in slow
 * start to the bottleneck's bandwidth-delay product, leaves slow start, keeps the bottleneck's
 * queue short (under delta), and backs off when the bottleneck slows and the RTT rises.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { VEGAS_EXIT, VegasController } from '../../../src/onion/congestion.ts'

/** A deterministic bottleneck: FIFO service at `rate` cells/ms, base RTT `rtt` ms. */
class Bottleneck {
  rate: number
  readonly rtt: number
  private lastDepart = 0
  private sent = 0
  /** Departure times of cells still queued or in service. */
  private readonly departs: number[] = []
  /** Arrival times at the sender of pending SENDMEs. */
  readonly sendmes: number[] = []

  constructor (rate: number, rtt: number) {
    this.rate = rate
    this.rtt = rtt
  }

  send (now: number): void {
    const depart = Math.max(now, this.lastDepart) + 1 / this.rate
    this.lastDepart = depart
    this.departs.push(depart)
    // the receiver sends a SENDME on every 31st cell; it reaches the sender one base RTT after the cell left the queue
    if (++this.sent % VEGAS_EXIT.sendmeInc === 0) this.sendmes.push(depart + this.rtt)
  }

  queued (now: number): number {
    while (this.departs.length > 0 && (this.departs[0] as number) <= now) this.departs.shift()
    return this.departs.length
  }
}

interface Trace { cwnd: number[], queue: number[], maxInflightOverCwnd: number, exitedAt?: number }

/** Runs the sender against `link` for `ms` of simulated time. */
function run (cc: VegasController, link: Bottleneck, ms: number, start = 0): Trace & { end: number } {
  const trace: Trace = { cwnd: [], queue: [], maxInflightOverCwnd: 0 }
  let now = start
  while (now < start + ms) {
    let sent = 0
    while (cc.canSend()) { link.send(now); cc.sent(now); sent++ }
    // a window that shrank leaves older cells in flight; what is checked is that none was added past it
    if (sent > 0) trace.maxInflightOverCwnd = Math.max(trace.maxInflightOverCwnd, cc.inflight - cc.cwnd)
    const next = link.sendmes.shift()
    if (next == null) break
    now = next
    const wasSlow = cc.inSlowStart
    cc.acknowledged(now)
    if (wasSlow && !cc.inSlowStart) trace.exitedAt = now
    trace.cwnd.push(cc.cwnd)
    trace.queue.push(link.queued(now))
  }
  return { ...trace, end: now }
}

function tail (xs: number[], n: number): number[] {
  return xs.slice(-n)
}

describe('Vegas congestion control', () => {
  it('starts at tor\'s exit defaults', () => {
    const cc = new VegasController()
    assert.equal(cc.cwnd, 124)
    assert.deepEqual([VEGAS_EXIT.alpha, VEGAS_EXIT.beta, VEGAS_EXIT.gamma, VEGAS_EXIT.delta], [124, 248, 186, 372])
    assert.equal(cc.inSlowStart, true)
  })

  it('grows cwnd to the bottleneck\'s bandwidth-delay product, leaves slow start, and keeps its queue short', () => {
    const rtt = 50
    const rate = 20 // cells/ms, ≈10 MB/s: a BDP of 1000 cells
    const bdp = rate * rtt
    const cc = new VegasController()
    const link = new Bottleneck(rate, rtt)
    const t = run(cc, link, 5_000)
    assert.equal(t.maxInflightOverCwnd, 0, 'more than cwnd cells in flight')
    assert.equal(cc.inSlowStart, false, 'still in slow start')
    assert.ok(t.exitedAt != null && t.exitedAt < 1_000, `left slow start at ${String(t.exitedAt)} ms`)
    const steady = tail(t.cwnd, 200)
    assert.ok(Math.min(...steady) >= bdp, `cwnd fell to ${Math.min(...steady)} under the BDP of ${bdp}`)
    assert.ok(Math.max(...steady) <= bdp + VEGAS_EXIT.delta, `cwnd rose to ${Math.max(...steady)}`)
    const queue = Math.max(...tail(t.queue, 200))
    assert.ok(queue <= VEGAS_EXIT.delta, `the bottleneck queued ${queue} cells`)
    // the link stays busy: throughput near the bottleneck rate
    assert.ok(Math.min(...steady) >= bdp, 'window under the BDP leaves the link idle')
  })

  it('backs off when the bottleneck slows and the RTT rises', () => {
    const rtt = 50
    const cc = new VegasController()
    const link = new Bottleneck(20, rtt)
    const fast = run(cc, link, 3_000)
    const before = cc.cwnd
    link.rate = 5 // a quarter of the bandwidth: BDP 250 cells, queues build, RTT rises
    const slow = run(cc, link, 10_000, fast.end)
    const after = tail(slow.cwnd, 100)
    assert.ok(cc.ewmaRtt > rtt, 'the RTT did not rise')
    assert.ok(Math.max(...after) < before / 2, `cwnd ${Math.max(...after)} after slowing, ${before} before`)
    assert.ok(Math.max(...after) <= 5 * rtt + VEGAS_EXIT.delta, `cwnd ${Math.max(...after)} over BDP + delta`)
    assert.ok(Math.max(...tail(slow.queue, 100)) <= VEGAS_EXIT.delta, 'the queue stayed long')
    assert.equal(slow.maxInflightOverCwnd, 0)
  })

  it('treats its own full link queue as congestion (tor\'s blocked channel)', () => {
    const cc = new VegasController()
    for (let i = 0; i < 124; i++) cc.sent(0)
    cc.acknowledged(10, true)
    assert.equal(cc.inSlowStart, false)
  })

  it('refuses a SENDME for cells never sent', () => {
    const cc = new VegasController()
    for (let i = 0; i < 30; i++) cc.sent(0)
    assert.throws(() => { cc.acknowledged(1) }, { name: 'FlowControlError' })
  })
})
