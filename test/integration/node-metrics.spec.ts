/**
 * `node.metrics()` for a program embedding peerd: two nodes in one process keep their metrics
 * apart in registries of their own (prom-client's global registry stays empty), libp2p's and
 * peerd's metrics are both there, and a failed download counts as failed. Also the sorting of
 * protocol ids into services.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { register } from 'prom-client'
import { serviceOfProtocol } from '../../src/node/metrics.ts'
import { unknownCid } from '../utils/share.ts'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

/** The value of the sample `key` (`name{labels}`) in a Prometheus text exposition. */
function sample (text: string, key: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(key + ' '))
  return line == null ? undefined : Number(line.slice(key.length + 1))
}

describe('node metrics (library)', () => {
  it('two nodes in one process each have their own libp2p and peerd metrics, and the global registry is untouched', TEST, async (t) => {
    const td = teardown(t)
    const globalBefore = await register.metrics()
    const a = await td.testNode()
    const b = await td.testNode()
    await b.connect(a.addresses()[0] as string)
    await waitFor(async () => sample(await a.metrics(), 'peerd_peers{direction="inbound"}') === 1, { what: 'A to count B' })
    const [ta, tb] = [await a.metrics(), await b.metrics()]
    assert.equal(sample(ta, `peerd_info{version="${a.status().version}",network="regtest",peer_id="${a.peerId}"}`), 1)
    assert.equal(sample(tb, `peerd_info{version="${b.status().version}",network="regtest",peer_id="${b.peerId}"}`), 1)
    assert.equal(sample(tb, 'peerd_peers{direction="outbound"}'), 1)
    // both have libp2p's own metrics (the second node does not lose them to the first)
    // (libp2p names no label for these groups: the label is the metric's name, as with @libp2p/prometheus-metrics)
    assert.match(ta, /^libp2p_connection_manager_connections\{libp2p_connection_manager_connections="inbound"\} 1$/m)
    assert.match(tb, /^libp2p_connection_manager_connections\{libp2p_connection_manager_connections="outbound"\} 1$/m)
    for (const text of [ta, tb]) {
      assert.match(text, /^libp2p_data_transfer_bytes_total\{protocol="global sent"\} [1-9]/m)
      assert.match(text, /^libp2p_data_transfer_bytes_total\{protocol="\/ipfs\/id\/1\.0\.0 received"\} [1-9]/m)
    }
    assert.equal(await register.metrics(), globalBefore, 'nothing registered in prom-client\'s global registry')
    assert.equal(a.metricsRegistry === b.metricsRegistry, false)
  })

  it('counts a download that fails as failed, not completed', TEST, async (t) => {
    const td = teardown(t)
    const a = await td.testNode()
    await assert.rejects(a.share.get(await unknownCid(), { timeoutSeconds: 1 }))
    const text = await a.metrics()
    assert.equal(sample(text, 'peerd_transfers_failed_total'), 1)
    assert.equal(sample(text, 'peerd_transfers_completed_total'), 0)
    assert.equal(sample(text, 'peerd_transfers_active'), 0)
  })

  it('sorts protocol ids into services by prefix', () => {
    const cases: Record<string, string> = {
      '/ipfs/bitswap/1.2.0': 'bitswap',
      '/peerd/main/blocks/1.2.0': 'share',
      '/peerd/main/providers/1.0.0': 'share',
      '/peerd/main/share-hs/1.0.0': 'share',
      '/peerd/main/blocks/1': 'cash',
      '/peerd/main/chain/1.0.0': 'cash',
      '/peerd/regtest/txs/1': 'cash',
      '/peerd/main/cash/tx-push/1.0.0': 'cash',
      '/meshsub/1.2.0': 'cash',
      '/peerd/main/onion/link/1.0.0': 'onion',
      '/peerd/main/onion/hsdir/1.0.0': 'onion',
      '/peerd/main/kad/1.0.0': 'dht',
      '/ipfs/kad/1.0.0': 'dht',
      '/libp2p/circuit/relay/0.2.0/hop': 'relay',
      '/ipfs/id/1.0.0': 'other',
      '/peerd/main/peers/1.0.0': 'other',
      other: 'other'
    }
    for (const [protocol, service] of Object.entries(cases)) assert.equal(serviceOfProtocol(protocol), service, protocol)
  })
})
