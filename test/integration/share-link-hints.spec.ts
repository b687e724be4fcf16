/**
 * Provider hints from a share link (`GetOptions.providers`): a downloader that is not connected
 * to the provider and has no DHT route to it (no common bootstrap) fetches through the link's
 * provider, skipping a hint that cannot be reached; without the hint the same get finds nobody;
 * with only an unreachable hint, the usual search (here a connected peer) still finds the provider.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerdNode } from '../../src/node/node.ts'
import { formatLink, parseLink } from '../../src/share/link.ts'
import { MiB, sha256File, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 30_000 }

describe('share link provider hints', () => {
  const td = teardown()
  let root: string
  let a: PeerdNode
  let b: PeerdNode
  let c: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-link-')
    ;[a, b, c] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
  })

  it('a get without the hint finds no provider; with the link it fetches from the hinted one', TEST, async () => {
    const file = join(root, 'linked.bin')
    const digest = await writeRandomFile(file, 3 * MiB + 5)
    const shared = await a.share.share(file)
    assert.equal(b.peers().length, 0, 'B must not know A beforehand')

    // the same content, asked for by CID alone: nobody to ask
    await assert.rejects(c.share.get(shared.cid, { output: join(root, 'out-c', 'x.bin'), timeoutSeconds: 2 }), { name: 'ContentNotFoundError' })

    const dead = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
    const link = parseLink(formatLink({ cid: parseLink(shared.cid).cid, name: 'linked.bin', providers: [multiaddr(dead), ...a.addresses().map(s => multiaddr(s))] }))
    const out = join(root, 'out-b', 'linked.bin')
    const started = Date.now()
    const got = await b.share.get(link.cid.toString(), { output: out, timeoutSeconds: 10, providers: link.providers })
    assert.equal(got.size, 3 * MiB + 5)
    assert.equal(got.peers, 1)
    assert.equal(await sha256File(out), digest, 'B saved different bytes')
    assert.ok(Date.now() - started < 9_000, `the unreachable hint held the download up: ${Date.now() - started} ms`)
  })

  it('a hint that cannot be reached is skipped and the usual search still runs', TEST, async () => {
    const file = join(root, 'found-anyway.bin')
    const digest = await writeRandomFile(file, MiB + 9)
    const shared = await a.share.share(file)
    const d = await td.testNode({ bootstrap: [a.addresses()[0] as string] })
    const dead = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
    const out = join(root, 'out-d', 'found.bin')
    const got = await d.share.get(shared.cid, { output: out, timeoutSeconds: 10, providers: [multiaddr(dead)] })
    assert.equal(got.peers, 1)
    assert.equal(await sha256File(out), digest)
  })

  it('refuses bad hints and hints with a private get, before anything is fetched', TEST, async () => {
    const cid = (await a.share.ls())[0]?.cid as string
    await assert.rejects(c.share.get(cid, { providers: [multiaddr('/ip4/127.0.0.1/tcp/4001')] }), { name: 'InvalidArgumentError', message: /\/p2p\/<peer id>/ })
    const many = Array.from({ length: 17 }, () => multiaddr(a.addresses()[0] as string))
    await assert.rejects(c.share.get(cid, { providers: many }), { name: 'InvalidArgumentError', message: /more than the 16/ })
    await assert.rejects(c.share.get(cid, { private: true, providers: [multiaddr(a.addresses()[0] as string)] }), { name: 'InvalidArgumentError', message: /private get dials no provider/ })
    assert.equal(c.peers().length, 0, 'C dialled a hint it refused')
  })
})
