/**
 * The chain server meters what it uploads per peer: a peer that asks for the same 16 blocks
 * over and over, as fast as it can, is sent at most its byte budget (the burst plus the rate
 * times the time) — the rest waits or is answered NOT_FOUND — while a peer within its budget
 * is served in full, and a request a little over the budget is deferred, not refused.
 * Real nodes on loopback TCP; the servers under test run on a protocol id of their own, with
 * small budgets, beside the nodes' own chain servers.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { hexToHash } from '../../src/cash/primitives/hash.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { ChainClient } from '../../src/cash/sync/client.ts'
import { ChainServer } from '../../src/cash/sync/server.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { createLogger } from '../../src/utils/logger.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const STREAMS = 8
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(7)))

describe('upload budget of the chain server', () => {
  const td = teardown()
  let a: PeerdNode
  let b: PeerdNode
  let hashes: Uint8Array[]
  let blockBytes: number

  /** A chain server on A under `protocol` with the given budget, and a client of it on B. */
  const serve = async (protocol: string, budget: { bytesPerSecond: number, byteBurst: number, maxDeferMs: number }): Promise<ChainClient> => {
    const server = new ChainServer({
      host: a.libp2p,
      chain: a.cash.chain,
      protocol,
      log: createLogger({ level: 'silent' }),
      penalize: () => { throw new Error('an honest client was penalised') },
      // the request rate limit is not what is under test
      requestsPerSecond: 10_000,
      requestBurst: 10_000,
      ...budget
    })
    await server.start()
    td.node(server)
    return new ChainClient({ host: b.libp2p, protocol })
  }

  before(async () => {
    a = await td.testNode()
    b = await td.testNode()
    await b.connect(a.addresses()[0] as string)
    hashes = (await a.cash.mine(16, ADDRESS)).map(hexToHash)
    blockBytes = 0
    for (const h of hashes) blockBytes += (await a.cash.chain.getBlockBytes(h) as Uint8Array).length
  })

  it('a peer asking for 16 blocks again and again, on 8 streams at once, is sent at most the burst plus the rate times the time', TEST, async (t) => {
    const rate = 4 * blockBytes // bytes a second: four full answers
    const burst = 2 * blockBytes
    // a short deferral: blocks that would wait longer are refused
    const client = await serve('/peerd/regtest/chain-budget-test/1.0.0', { bytesPerSecond: rate, byteBurst: burst, maxDeferMs: 20 })
    const started = Date.now()
    let received = 0
    let refused = 0
    let requests = 0
    await Promise.all(Array.from({ length: STREAMS }, async () => {
      while (Date.now() - started < 2_000) {
        const got = await client.blocks(a.libp2p.peerId, hashes)
        requests++
        for (const bytes of got) {
          if (bytes == null) refused++
          else received += bytes.length
        }
      }
    }))
    const seconds = (Date.now() - started) / 1000
    // each stream may take the bucket into debt by one block before it waits
    const allowed = burst + rate * seconds + STREAMS * blockBytes / 16
    t.diagnostic(`${requests} requests in ${seconds.toFixed(1)} s: ${received} bytes sent (allowed ${Math.round(allowed)}), ${refused} blocks refused`)
    assert.ok(received <= allowed, `sent ${received} bytes in ${seconds.toFixed(1)} s, over the budget of ${Math.round(allowed)}`)
    assert.ok(received >= burst, `sent only ${received} bytes, less than the burst of ${burst}`)
    assert.ok(refused > 0, 'nothing was refused to a peer asking far over its budget')
  })

  it('a request a little over the budget is deferred and then answered in full', TEST, async () => {
    const rate = 4 * blockBytes
    const client = await serve('/peerd/regtest/chain-budget-defer/1.0.0', { bytesPerSecond: rate, byteBurst: blockBytes, maxDeferMs: 5_000 })
    const first = await client.blocks(a.libp2p.peerId, hashes)
    assert.ok(first.every(bytes => bytes != null), 'the first request, within the burst, was not answered in full')
    const started = Date.now()
    const second = await client.blocks(a.libp2p.peerId, hashes)
    const waited = Date.now() - started
    assert.ok(second.every(bytes => bytes != null), 'a deferred request was refused')
    // the bucket was empty: sixteen blocks' worth of tokens at four answers a second take ~250 ms
    assert.ok(waited >= 150, `the second request was answered after ${waited} ms, not deferred`)
  })
})
