/**
 * A download-only node (`serve: false`, the daemon's `--no-serve`): it fetches a file from a
 * seeder as any node does, but once the seeder is gone a third node cannot get a single block of
 * that file from it, over the block protocol or Bitswap, and it announced no provider record.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../../src/errors.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { WantType } from '../../src/share/bitswap/index.ts'
import { waitFor } from '../utils/index.ts'
import { bitswapClient, MiB, sha256File, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

describe('serve off: a download-only node', () => {
  const td = teardown()
  let seeder: PeerdNode
  let rider: PeerdNode
  let dir: string
  let cid: string
  let hash: string
  const provided: string[] = []

  before(async () => {
    dir = await td.dir()
    seeder = await td.testNode({ minConnections: 0 })
    rider = await td.testNode({ serve: false, bootstrap: seeder.addresses(), minConnections: 0 })
    const dht = rider.libp2p.services.dht
    const { provide } = dht
    dht.provide = (key: CID, options) => { provided.push(key.toString()); return provide.call(dht, key, options) }
    const path = join(dir, 'file')
    hash = await writeRandomFile(path, 2 * MiB)
    cid = (await seeder.share.share(path)).cid
  })

  it('downloads as usual', TEST, async () => {
    assert.equal(rider.share.serves, false)
    const output = join(dir, 'rider-out')
    const result = await rider.share.get(cid, { output, timeoutSeconds: 20 })
    assert.equal(await sha256File(output), hash)
    assert.ok(result.peers >= 1)
  })

  it('gives a peer no block of what it holds, over the block protocol or Bitswap, and announces nothing', TEST, async () => {
    await seeder.stop()
    const other = await td.testNode({ minConnections: 0 })
    await other.libp2p.dial(multiaddr(rider.addresses()[0] as string))
    // identify tells the peer which protocols the rider speaks: not the block protocol
    await waitFor(async () => (await other.libp2p.peerStore.get(rider.libp2p.peerId)).protocols.length > 0, { what: 'identify' })
    assert.ok(!(await other.libp2p.peerStore.get(rider.libp2p.peerId)).protocols.includes(other.share.protocol), 'the rider does not speak the block protocol')
    await assert.rejects(other.libp2p.dialProtocol(rider.libp2p.peerId, other.share.protocol, { signal: AbortSignal.timeout(5_000) }))
    await assert.rejects(other.share.get(cid, { output: join(dir, 'other-out'), timeoutSeconds: 3 }), 'no get from the rider alone')

    const { send, received } = await bitswapClient(td, rider)
    send([{ cid: CID.parse(cid), priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: true }])
    await new Promise(resolve => setTimeout(resolve, 1_000))
    assert.deepEqual(received.flatMap(m => m.blocks), [], 'no block over Bitswap')

    assert.equal(rider.share.serverStats().blocksSent, 0)
    assert.ok(!provided.includes(cid), 'no provider record for the downloaded root')
  })

  it('refuses a private share (it would never be served)', TEST, async () => {
    await assert.rejects(rider.share.share(join(dir, 'file'), { private: true }), InvalidArgumentError)
  })
})
