/**
 * Private broadcast's rules with stand-in circuits: each push on its own isolation key to a
 * distinct random peer, the payment held until seen back, new peers on a repeat round, the
 * fallback to gossip only when no circuit answers in time, and the push protocol's answers.
 */
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { describe, it } from 'node:test'
import { hashToHex } from '../../../../src/cash/primitives/hash.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { PrivateBroadcast } from '../../../../src/cash/sync/private-broadcast.ts'
import type { PrivateBroadcastInit } from '../../../../src/cash/sync/private-broadcast.ts'
import { TxPushError, decodeAnswer, encodeAnswer, MAX_REASON } from '../../../../src/cash/sync/tx-push.ts'
import type { PushAnswer } from '../../../../src/cash/sync/tx-push.ts'
import { SILENT_LOGGER } from '../../../../src/utils/logger.ts'
import { testKey } from '../../../utils/cash.ts'

const tx: Transaction = {
  version: 2,
  inputs: [{ prevout: { txid: new Uint8Array(32).fill(7), index: 0 }, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [new Uint8Array(64).fill(1)] }],
  outputs: [{ amount: 1000n, script: testKey(1).script }],
  lockTime: 0
}
const id = txid(tx)
const PEERS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']

/** Polls `check` every 10 ms (test/utils' waitFor would load the whole node for this unit). */
async function waitFor (check: () => boolean, options: { timeoutMs: number, what: string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** A duplex standing for an onion stream to a node that answers `answer` to a push. */
function answering (answer: PushAnswer, onPush: () => void): Duplex {
  return new Duplex({
    read () {},
    write (_chunk, _encoding, callback) {
      onPush()
      this.push(encodeAnswer(answer))
      callback()
    }
  })
}

interface Harness { pb: PrivateBroadcast, dials: Array<{ peer: string, isolation: string }>, released: string[], announced: Uint8Array[], inMempool: { value: boolean } }

function harness (dial: (peer: string) => Duplex, options: Partial<PrivateBroadcastInit> = {}): Harness {
  const dials: Harness['dials'] = []
  const released: string[] = []
  const announced: Uint8Array[] = []
  const inMempool = { value: true }
  const pb = new PrivateBroadcast({
    protocol: '/peerd/regtest/cash/tx-push/1.0.0',
    dial: async (peer, _protocol, o) => { dials.push({ peer, isolation: o.isolation }); return dial(peer) },
    release: (isolation) => { released.push(isolation) },
    peers: async () => PEERS,
    mempool: { has: () => inMempool.value },
    announce: (t) => { announced.push(t) },
    log: SILENT_LOGGER,
    ...options
  })
  pb.start()
  return { pb, dials, released, announced, inMempool }
}

describe('private broadcast', () => {
  it('pushes to three distinct peers, each over its own circuit, and holds the payment until it is seen back', async () => {
    const h = harness(() => answering({ status: 'accepted' }, () => {}))
    let admitted = 0
    await h.pb.send(tx, async () => { assert.ok(h.pb.holds(id), 'held before the mempool announces it'); admitted++ })
    assert.equal(admitted, 1)
    await waitFor(() => h.pb.status(hashToHex(id))?.sentVia === 3, { timeoutMs: 5000, what: 'three pushes taken' })
    assert.equal(new Set(h.dials.map(d => d.peer)).size, 3)
    assert.equal(new Set(h.dials.map(d => d.isolation)).size, 3, 'one circuit per push')
    await waitFor(() => h.released.length === 3, { timeoutMs: 2000, what: 'every circuit let go' })
    assert.ok(h.pb.holds(id))
    h.pb.seen('p9', id)
    assert.equal(h.pb.holds(id), false)
    const status = h.pb.status(hashToHex(id))
    assert.ok(status?.seenBackAt != null && Math.abs(status.seenBackAt - Date.now() / 1000) < 5)
    assert.equal(h.announced.length, 0, 'never gossiped from this node')
    h.pb.stop()
  })

  it('repeats to peers not tried yet until seen back', async () => {
    const h = harness(() => answering({ status: 'accepted' }, () => {}), { retryMs: 50 })
    await h.pb.send(tx, async () => {})
    await waitFor(() => h.dials.length >= 6, { timeoutMs: 5000, what: 'a second round' })
    assert.equal(new Set(h.dials.slice(0, 6).map(d => d.peer)).size, 6, 'the second round went to new peers')
    h.pb.seen('p9', id)
    const n = h.dials.length
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(h.dials.length, n, 'no push after it was seen back')
    h.pb.stop()
  })

  it('falls back to gossip when no circuit can be built in time, with the status saying so', async () => {
    const h = harness(() => { throw new Error('no path') }, { fallbackMs: 300 })
    await h.pb.send(tx, async () => {})
    await waitFor(() => h.announced.length === 1, { timeoutMs: 5000, what: 'the fallback' })
    assert.equal(hashToHex(h.announced[0] as Uint8Array), hashToHex(id))
    const status = h.pb.status(hashToHex(id))
    assert.equal(status?.sentVia, 0)
    assert.ok(status?.fellBackAt != null)
    assert.equal(h.pb.holds(id), false)
    h.pb.stop()
  })

  it('never falls back once circuits answer, even when the peers refuse the payment', async () => {
    const h = harness(() => answering({ status: 'rejected', reason: 'min relay fee not met' }, () => {}), { fallbackMs: 100, retryMs: 50, maxRounds: 3 })
    await h.pb.send(tx, async () => {})
    await waitFor(() => h.pb.inFlight === 0, { timeoutMs: 5000, what: 'the rounds to run out' })
    assert.equal(h.dials.length, 9, 'three rounds of three')
    assert.equal(h.announced.length, 0)
    assert.equal(h.pb.status(hashToHex(id))?.sentVia, 0)
    h.pb.stop()
  })

  it('stops when the payment leaves the mempool (confirmed or replaced)', async () => {
    const h = harness(() => answering({ status: 'accepted' }, () => {}), { retryMs: 50 })
    await h.pb.send(tx, async () => {})
    await waitFor(() => h.dials.length >= 3, { timeoutMs: 5000, what: 'the first round' })
    h.inMempool.value = false
    await waitFor(() => h.pb.inFlight === 0, { timeoutMs: 5000, what: 'the broadcast to stop' })
    h.pb.stop()
  })

  it('with fewer than four relays known sends the ordinary way at once; a payment sent again as the wallet opens waits for relays', async () => {
    const relays = { n: 2 }
    const h = harness(() => answering({ status: 'accepted' }, () => {}), { relays: () => relays.n })
    await h.pb.send(tx, async () => {})
    assert.equal(h.announced.length, 1, 'gossiped at once')
    assert.equal(h.dials.length, 0)
    assert.ok(h.pb.status(hashToHex(id))?.fellBackAt != null)
    h.pb.stop()

    const p = harness(() => answering({ status: 'accepted' }, () => {}), { relays: () => relays.n })
    await p.pb.send(tx, async () => {}, { patient: true })
    assert.ok(p.pb.holds(id))
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(p.dials.length, 0, 'no push without relays')
    relays.n = 5
    await waitFor(() => p.pb.status(hashToHex(id))?.sentVia === 3, { timeoutMs: 5000, what: 'the pushes once relays are known' })
    assert.equal(p.announced.length, 0)
    p.pb.stop()
  })

  it('forgets a payment the mempool refuses', async () => {
    const h = harness(() => answering({ status: 'accepted' }, () => {}))
    await assert.rejects(h.pb.send(tx, async () => { throw new Error('refused') }), /refused/)
    assert.equal(h.pb.holds(id), false)
    assert.equal(h.pb.status(hashToHex(id)), undefined)
    h.pb.stop()
  })
})

describe('tx-push answers', () => {
  it('round-trip, and malformed ones are refused', () => {
    for (const a of [{ status: 'accepted' }, { status: 'known' }, { status: 'orphan' }, { status: 'busy' }, { status: 'rejected', reason: 'bad-txns-inputs-missingorspent' }] as PushAnswer[]) {
      const frame = encodeAnswer(a)
      assert.deepEqual(decodeAnswer(frame.subarray(1)), a)
    }
    assert.throws(() => decodeAnswer(Uint8Array.of(0x81, 0)), TxPushError)
    assert.throws(() => decodeAnswer(Uint8Array.of(0x99)), TxPushError)
    assert.throws(() => decodeAnswer(new Uint8Array(MAX_REASON + 2).fill(0x84)), TxPushError)
    // a long reason is cut to the limit when encoded
    const long = encodeAnswer({ status: 'rejected', reason: 'x'.repeat(500) })
    assert.equal((decodeAnswer(long.subarray(1)) as { reason: string }).reason.length, MAX_REASON)
  })
})
