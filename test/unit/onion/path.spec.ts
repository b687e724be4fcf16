/**
 * Path selection: 500 random draws obey the rules (three different relays, no shared IPv4 /16 or
 * IPv6 /32, no mutual family, an exit whose policy accepts the target, never this node, the
 * first fitting guard); bandwidth weighting shows in the counts and the declared-bandwidth cap
 * holds; regtest lifts the subnet and family rules; no-path cases give a NoPathError that says why.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeDescriptor, descriptorIps, signDescriptor } from '../../../src/onion/descriptor.ts'
import type { DescriptorFields, RelayDescriptor } from '../../../src/onion/descriptor.ts'
import { NoPathError } from '../../../src/onion/directory-errors.ts'
import { parseExitPolicy } from '../../../src/onion/exit-policy.ts'
import { ntorKeyPair } from '../../../src/onion/ntor.ts'
import { MAX_WEIGHT_BANDWIDTH, selectPath } from '../../../src/onion/path.ts'

/** A seeded PRNG (mulberry32), so a failure replays. */
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function relay (key: PrivateKey, over: Partial<DescriptorFields>): Promise<RelayDescriptor> {
  return decodeDescriptor(await signDescriptor({ network: 'main', onionKey: ntorKeyPair().publicKey, bandwidth: 1_000_000, ...over }, key))
}

const idOf = (d: RelayDescriptor): string => d.peerId.toString()
const sub16 = (d: RelayDescriptor): string[] => descriptorIps(d).map(ip => ip.includes('.') ? ip.split('.').slice(0, 2).join('.') : ip.split(':').slice(0, 2).join(':'))

describe('path selection', () => {
  const keys: PrivateKey[] = []
  const ids: string[] = []
  before(async () => {
    for (let i = 0; i < 24; i++) { const k = await generateKeyPair('Ed25519'); keys.push(k); ids.push(peerIdFromPrivateKey(k).toString()) }
  })

  it('500 draws: distinct relays, no shared /16 or /32, no mutual family, an exit that accepts the target, never self', async () => {
    const web = ['reject *:25', 'accept *:443', 'reject *:*']
    const relays: RelayDescriptor[] = []
    for (let i = 0; i < 20; i++) {
      // pairs (0-1, 2-3, …) share an IPv4 /16; 14 and 16 share an IPv6 /32; 0-1 and 2-3 are mutual family; 4 lists 6 alone
      const v4 = `/ip4/${60 + Math.floor(i / 2)}.7.${i}.1/tcp/9470`
      const addresses = i === 14 || i === 16 ? [v4, `/ip6/2001:db8:${i}::1/tcp/9470`] : i === 18 ? [v4, '/ip6/2001:db9::1/tcp/9470'] : [v4]
      const family = i < 4 ? [ids[i ^ 1] as string] : i === 4 ? [ids[6] as string] : []
      relays.push(await relay(keys[i] as PrivateKey, { addresses, family, exit: i % 3 === 0, exitPolicy: i % 3 === 0 ? (i === 9 ? ['accept *:25', 'reject *:*'] : web) : [], bandwidth: 100_000 * (1 + i) }))
    }
    const self = ids[7] as string
    const guards = [ids[10], ids[11], ids[12]] as string[]
    const random = prng(1)
    const seenPairs = new Set<string>()
    for (let n = 0; n < 500; n++) {
      const port = n % 2 === 0 ? 443 : 25
      const path = selectPath({ relays, guards, target: { kind: 'tcp', port, address: n % 4 === 0 ? '93.184.216.34' : undefined }, network: 'main', self, random })
      assert.equal(path.length, 3)
      const [guard, middle, exit] = path as [RelayDescriptor, RelayDescriptor, RelayDescriptor]
      assert.equal(new Set(path.map(idOf)).size, 3)
      assert.ok(!path.some(d => idOf(d) === self), 'picked the client itself')
      assert.ok(exit.exit && parseExitPolicy(exit.exitPolicy).allowsPort(port), `exit ${idOf(exit)} does not accept port ${port}`)
      assert.ok(guards.includes(idOf(guard)), 'the first hop is not a guard')
      for (const [a, b] of [[guard, middle], [guard, exit], [middle, exit]] as Array<[RelayDescriptor, RelayDescriptor]>) {
        const sa = sub16(a)
        assert.ok(!sub16(b).some(s => sa.includes(s)), `${idOf(a)} and ${idOf(b)} share a subnet`)
        assert.ok(!(a.family.includes(idOf(b)) && b.family.includes(idOf(a))), 'mutual family on one path')
        seenPairs.add([idOf(a), idOf(b)].sort().join())
      }
    }
    // a one-sided family claim is no family (tor): 4 and 6 still meet; the rules did bite: 0-1 and 14-16 never did
    assert.ok(seenPairs.has([ids[4], ids[6]].sort().join()), 'a one-sided family claim kept two relays apart')
    assert.ok(!seenPairs.has([ids[0], ids[1]].sort().join()) && !seenPairs.has([ids[14], ids[16]].sort().join()))
    assert.ok(seenPairs.size > 60, `only ${seenPairs.size} pairs seen`)
    // guard order: with guard 10 sharing 11's /16 (60.x: pair 10-11), a path whose exit is not near 10 starts at 10
    const first = selectPath({ relays, guards, target: { kind: 'peerd' }, network: 'main', random: prng(2), exclude: relays.filter(d => sub16(d)[0] === sub16(relays[10] as RelayDescriptor)[0] && idOf(d) !== ids[10]).map(idOf) })
    assert.equal(idOf(first[0] as RelayDescriptor), ids[10])
  })

  it('weights by declared bandwidth, capped', async () => {
    const relays = [
      await relay(keys[0] as PrivateKey, { addresses: ['/ip4/11.0.0.1/tcp/1'], bandwidth: 1_000_000 }),
      await relay(keys[1] as PrivateKey, { addresses: ['/ip4/12.0.0.1/tcp/1'], bandwidth: 4_000_000 }),
      await relay(keys[2] as PrivateKey, { addresses: ['/ip4/13.0.0.1/tcp/1'], bandwidth: 0xffffffff }), // a liar
      ...await Promise.all([3, 4, 5, 6, 7, 8].map(async i => await relay(keys[i] as PrivateKey, { addresses: [`/ip4/${20 + i}.0.0.1/tcp/1`], bandwidth: MAX_WEIGHT_BANDWIDTH })))
    ]
    const counts = new Map<string, number>()
    const random = prng(3)
    const N = 3000
    for (let n = 0; n < N; n++) {
      const exit = selectPath({ relays, target: { kind: 'peerd' }, network: 'main', random })[2] as RelayDescriptor
      counts.set(idOf(exit), (counts.get(idOf(exit)) ?? 0) + 1)
    }
    const slow = counts.get(ids[0] as string) ?? 0
    const fast = counts.get(ids[1] as string) ?? 0
    const liar = counts.get(ids[2] as string) ?? 0
    const capped = counts.get(ids[3] as string) ?? 0
    assert.ok(fast / slow > 2.5 && fast / slow < 6.5, `4× bandwidth drew ${fast} vs ${slow}`)
    // the liar's 4 GB/s counts as the cap: about as often as an honest relay at the cap
    assert.ok(liar / capped > 0.7 && liar / capped < 1.4, `liar ${liar} vs capped ${capped}`)
    assert.ok(liar < N * 0.2, `liar drew ${liar} of ${N}`)
  })

  it('on regtest relays on one address that name each other as family still make a path; on main not', async () => {
    const relays = await Promise.all([0, 1, 2].map(async i => await relay(keys[i] as PrivateKey, { addresses: ['/ip4/127.0.0.1/tcp/' + (4000 + i)], family: ids.slice(0, 3).filter((_, j) => j !== i) })))
    const path = selectPath({ relays, target: { kind: 'peerd' }, network: 'regtest', random: prng(4) })
    assert.equal(new Set(path.map(idOf)).size, 3)
    assert.throws(() => selectPath({ relays, target: { kind: 'peerd' }, network: 'main', random: prng(4) }), NoPathError)
  })

  it('loopback and LAN addresses every relay may list do not make relays one subnet', async () => {
    const relays = await Promise.all([0, 1, 2].map(async i => await relay(keys[i] as PrivateKey, { addresses: [`/ip4/${80 + i}.0.0.1/tcp/1`, '/ip4/127.0.0.1/tcp/1', '/ip4/192.168.0.2/tcp/1', '/ip6/::1/tcp/1'] })))
    assert.equal(selectPath({ relays, target: { kind: 'peerd' }, network: 'main', random: prng(5) }).length, 3)
  })

  it('says why when there is no path', async () => {
    const two = await Promise.all([0, 1].map(async i => await relay(keys[i] as PrivateKey, { addresses: [`/ip4/${30 + i}.0.0.1/tcp/1`] })))
    assert.throws(() => selectPath({ relays: two, target: { kind: 'peerd' }, network: 'main' }), (err: Error) => err instanceof NoPathError && /has 2 usable relays .* needs 3/.test(err.message))
    const three = [...two, await relay(keys[2] as PrivateKey, { addresses: ['/ip4/40.0.0.1/tcp/1'], exit: true, exitPolicy: ['accept *:443', 'reject *:*'] })]
    assert.throws(() => selectPath({ relays: three, target: { kind: 'tcp', port: 25 }, network: 'main' }), (err: Error) => err instanceof NoPathError && /accepts .*:25/.test(err.message))
    assert.equal(selectPath({ relays: three, target: { kind: 'tcp', port: 443 }, network: 'main' })[2]?.peerId.toString(), ids[2])
    // the exit's policy rejects a private address even on an allowed port
    assert.throws(() => selectPath({ relays: three, target: { kind: 'tcp', address: '10.1.2.3', port: 443 }, network: 'main' }), NoPathError)
    assert.throws(() => selectPath({ relays: three, guards: [ids[9] as string], target: { kind: 'peerd' }, network: 'main' }), /entry guards/)
    assert.throws(() => selectPath({ relays: three, target: { kind: 'peerd' }, network: 'main', self: ids[0] }), /has 2 usable relays/)
  })
})
