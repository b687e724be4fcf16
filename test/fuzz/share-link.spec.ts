/**
 * Fuzzing share links (src/share/link.ts), which users paste from anywhere: generated links
 * round-trip through formatLink and parseLink in every style; mutated and arbitrary strings
 * parse to a link that formats and parses back to itself, or throw InvalidLinkError, nothing else.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { formatLink, MAX_LINK_PROVIDERS, parseLink } from '../../src/share/link.ts'
import type { ShareLink } from '../../src/share/link.ts'
import { cidArb, decodeOrTyped, fuzz } from '../utils/fuzz.ts'

/** Comparable form of a link. */
function plain (l: ShareLink): unknown {
  return { cid: l.cid.toString(), path: l.path, name: l.name, providers: l.providers.map(p => p.toString()) }
}

const nameChar = fc.oneof(fc.constantFrom('a', 'Z', '0', ' ', '.', '%', '+', '&', '=', '?', '#', ':', 'é', '😀', '-'), fc.string({ minLength: 1, maxLength: 1 }))
const name = fc.array(nameChar, { minLength: 1, maxLength: 20 }).map(cs => cs.join('')).filter(s => {
  try { parseLink(`bafkqaaa?name=${encodeURIComponent(s)}`); return true } catch { return false }
})

describe('fuzz: share links', () => {
  it('generated links round-trip; anything else parses to a stable link or throws InvalidLinkError', async () => {
    const peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    const provider = fc.tuple(
      fc.constantFrom(...peers),
      fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 65535 })).map(([a, b, port]) => `/ip4/${a}.7.${b}.9/tcp/${port}`),
        fc.integer({ min: 1, max: 65535 }).map(port => `/ip6/2001:db8::${port.toString(16)}/udp/${port}/quic-v1`),
        fc.constantFrom('/dns4/seed.example.org/tcp/4001', '/dns/example.com/tcp/443/wss')
      )
    ).map(([peer, addr]) => multiaddr(`${addr}/p2p/${peer}`))
    const link: fc.Arbitrary<ShareLink> = fc.record({
      cid: cidArb,
      path: fc.option(fc.array(name, { minLength: 1, maxLength: 3 }).map(p => p.join('/')), { nil: undefined }),
      name: fc.option(name, { nil: undefined }),
      providers: fc.uniqueArray(provider, { maxLength: MAX_LINK_PROVIDERS, selector: p => p.toString() })
    })
    const style = fc.constantFrom('peerd' as const, 'web+peerd' as const, 'plain' as const)

    fuzz(fc.tuple(link, style), ([l, s]) => {
      assert.deepEqual(plain(parseLink(formatLink(l, s))), plain(l))
    })

    // one to four characters of a valid link replaced, inserted or deleted, or the link cut short
    const edit = fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete', 'cut'), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('%', '%2', '/', '?', '&', '=', '#', ' ', ':', '\u0000', '\uD800', 'p2p', '%FF')))
    const mutated = fc.tuple(link, style, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([l, s, edits]) => edits.reduce((acc, [at, op, ch]) => {
      const i = at % (acc.length + 1)
      if (op === 'insert') return acc.slice(0, i) + ch + acc.slice(i)
      if (op === 'delete') return acc.slice(0, i) + acc.slice(i + 1)
      if (op === 'cut') return acc.slice(0, i)
      return acc.slice(0, i) + ch + acc.slice(i + 1)
    }, formatLink(l, s)))
    const hostile = fc.oneof(
      { arbitrary: mutated, weight: 6 },
      { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 1 },
      { arbitrary: fc.tuple(cidArb, fc.string({ maxLength: 200 })).map(([c, q]) => `peerd://${c.toString()}?${q}`), weight: 2 }
    )
    fuzz(hostile, (text) => {
      const l = decodeOrTyped(() => parseLink(text), ['InvalidLinkError'])
      if (l == null) return
      assert.ok(l.providers.length <= MAX_LINK_PROVIDERS)
      for (const p of l.providers) assert.equal(p.getComponents().at(-1)?.name, 'p2p')
      for (const s of ['peerd', 'web+peerd', 'plain'] as const) assert.deepEqual(plain(parseLink(formatLink(l, s))), plain(l))
    }, 2)
  })
})
