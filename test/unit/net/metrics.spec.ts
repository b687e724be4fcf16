/**
 * PeerdMetrics, the libp2p metrics implementation: payload bytes by protocol (bounded however
 * many protocol ids peers negotiate), totals that stay totals from scrape to scrape, and
 * libp2p's metric kinds in the registry it was given.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { Registry } from 'prom-client'
import { MAX_TRACKED_PROTOCOLS, OTHER_PROTOCOLS, PeerdMetrics } from '../../../src/net/metrics.ts'

/** The little of a libp2p stream that tracking touches. */
function fakeStream (protocol: string): Stream & { received: (n: number) => void } {
  const s = {
    protocol,
    send: (_data: Uint8Array) => true,
    dispatchEvent: (_evt: Event) => true,
    received: (n: number) => { s.dispatchEvent(Object.assign(new Event('message'), { data: new Uint8Array(n) })) }
  }
  return s as unknown as Stream & { received: (n: number) => void }
}

function sample (text: string, key: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(key + ' '))
  return line == null ? undefined : Number(line.slice(key.length + 1))
}

describe('PeerdMetrics', () => {
  it('counts payload bytes by protocol, and the totals do not grow from one scrape to the next', async () => {
    const m = new PeerdMetrics({ registry: new Registry() })
    const s = fakeStream('/ipfs/bitswap/1.2.0')
    m.trackProtocolStream(s)
    s.send(new Uint8Array(1000))
    s.send(new Uint8Array(24))
    s.received(500)
    assert.deepEqual(m.protocolBytes().get('/ipfs/bitswap/1.2.0'), { sent: 1024, received: 500 })
    for (let scrape = 0; scrape < 2; scrape++) {
      const text = await m.registry.metrics()
      assert.equal(sample(text, 'libp2p_data_transfer_bytes_total{protocol="/ipfs/bitswap/1.2.0 sent"}'), 1024)
      assert.equal(sample(text, 'libp2p_data_transfer_bytes_total{protocol="/ipfs/bitswap/1.2.0 received"}'), 500)
    }
  })

  it('counts at most MAX_TRACKED_PROTOCOLS protocol ids apart, the rest together', () => {
    const m = new PeerdMetrics({ registry: new Registry() })
    for (let i = 0; i < MAX_TRACKED_PROTOCOLS + 100; i++) {
      const s = fakeStream(`/junk/${i}`)
      m.trackProtocolStream(s)
      s.send(new Uint8Array(1))
    }
    assert.ok(m.protocolBytes().size <= MAX_TRACKED_PROTOCOLS + 1)
    assert.ok((m.protocolBytes().get(OTHER_PROTOCOLS)?.sent ?? 0) >= 100)
  })

  it('puts libp2p\'s metrics (plain, grouped, calculated, histograms, summaries) in its own registry, once per name', async () => {
    const registry = new Registry()
    const m = new PeerdMetrics({ registry })
    m.registerCounter('libp2p_test_dials_total').increment(2)
    assert.equal(m.registerCounter('libp2p_test_dials_total') != null, true, 'a second registration of a name does not throw')
    m.registerCounter('libp2p_test_dials_total').increment()
    m.registerMetricGroup('libp2p_test_queue', { label: 'state' }).update({ running: 3 })
    let n = 7
    m.registerMetric('libp2p_test_calculated', { calculate: () => n })
    m.registerMetricGroup('libp2p_test_failing', { calculate: () => { throw new Error('stopped') } })
    m.registerHistogram('libp2p_test_seconds').observe(0.2)
    m.registerSummaryGroup('libp2p_test_summary', { label: 'op' }).observe({ get: 1 })
    const text = await registry.metrics()
    assert.equal(sample(text, 'libp2p_test_dials_total'), 3)
    assert.equal(sample(text, 'libp2p_test_queue{state="running"}'), 3)
    assert.equal(sample(text, 'libp2p_test_calculated'), 7)
    assert.equal(sample(text, 'libp2p_test_seconds_count'), 1)
    assert.equal(sample(text, 'libp2p_test_summary_count{op="get"}'), 1)
    n = 9
    assert.equal(sample(await registry.metrics(), 'libp2p_test_calculated'), 9)
  })
})
