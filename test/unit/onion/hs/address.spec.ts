/**
 * Onion-service addresses (`src/onion/hs/address.ts`): with Tor's TLD and checksum string the
 * construction gives a real Tor v3 address byte for byte; peerd's addresses round-trip in any
 * case, with a trailing dot and subdomains; a typo anywhere, a wrong version, a wrong length,
 * another TLD, a Tor address and a key outside Ed25519's prime-order subgroup are each refused
 * with `OnionAddressError`.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base32 } from 'multiformats/bases/base32'
import { ONION_ADDRESS_CHARS, ONION_TLD, TOR_ADDRESS, decodeOnionAddress, encodeOnionAddress, isOnionAddress, isOnionHost } from '../../../../src/onion/hs/address.ts'
import { OnionAddressError } from '../../../../src/onion/hs/hs-errors.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const isAddressError = (err: unknown): boolean => err instanceof OnionAddressError && err.name === 'OnionAddressError'

// Source: Tor, src/test/test_hs_common.c, test_build_address (made with hs_build_address.py after
// proposal 224), read from github.com/torproject/tor branch release-0.4.7 (16990f8904b167ed32e341fa41566e8ffe2a22ef);
// the same pair in arti, crates/tor-hscrypto/src/pk.rs, test `hsid_strings`.
const TOR_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
const TOR_ONION = '25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid'

/** An address of any 32 bytes with a correct checksum (what a careless encoder would produce). */
function forceAddress (pub: Uint8Array): string {
  const sum = createHash('sha3-256').update('.peerd checksum').update(pub).update(Uint8Array.of(3)).digest()
  return base32.baseEncode(Uint8Array.from([...pub, sum[0] as number, sum[1] as number, 3])) + '.peerd'
}

describe('onion addresses', () => {
  it('reproduces Tor\'s v3 address with Tor\'s checksum string, and reads it back as Tor does', () => {
    assert.equal(encodeOnionAddress(hex(TOR_KEY), TOR_ADDRESS), `${TOR_ONION}.onion`)
    for (const host of [`${TOR_ONION}.onion`, `${TOR_ONION.toUpperCase()}.ONION`, `www.${TOR_ONION}.onion`, `git.${TOR_ONION}.onion.`]) {
      assert.deepEqual(decodeOnionAddress(host, TOR_ADDRESS), hex(TOR_KEY), host)
    }
    // arti's refusals of the same address: a version of 4, a checksum off, a short name
    const edited = (i: number, c: string): string => `${TOR_ONION.slice(0, i)}${c}${TOR_ONION.slice(i + 1)}.onion`
    assert.throws(() => decodeOnionAddress(edited(55, 'e'), TOR_ADDRESS), /version 4/)
    assert.throws(() => decodeOnionAddress(edited(53, 'x'), TOR_ADDRESS), /checksum/)
    assert.throws(() => decodeOnionAddress('aaaaaaaa.onion', TOR_ADDRESS), isAddressError)
    assert.throws(() => decodeOnionAddress('@.onion', TOR_ADDRESS), isAddressError)
  })

  it('gives peerd addresses that differ from Tor\'s for the same key, and refuses one for the other', () => {
    const peerd = encodeOnionAddress(hex(TOR_KEY))
    assert.ok(peerd.endsWith(ONION_TLD))
    assert.equal(peerd.length, ONION_ADDRESS_CHARS + ONION_TLD.length)
    assert.notEqual(peerd.slice(0, ONION_ADDRESS_CHARS), TOR_ONION, 'the checksum differs')
    assert.throws(() => decodeOnionAddress(`${TOR_ONION}.peerd`), /checksum/)
    assert.throws(() => decodeOnionAddress(`${TOR_ONION}.onion`), /not a \.peerd address/)
    assert.throws(() => decodeOnionAddress(peerd.replace('.peerd', '.onion'), TOR_ADDRESS), /checksum/)
  })

  it('round-trips keys in either case, with a trailing dot and subdomains', () => {
    for (let i = 0; i < 20; i++) {
      const pub = ed25519.getPublicKey(new Uint8Array(32).fill(i))
      const addr = encodeOnionAddress(pub)
      assert.match(addr, /^[a-z2-7]{56}\.peerd$/)
      for (const host of [addr, addr.toUpperCase(), `${addr}.`, `www.${addr}`, `a.b.${addr}`]) {
        assert.deepEqual(decodeOnionAddress(host), pub, host)
        assert.ok(isOnionAddress(host))
      }
    }
  })

  it('refuses a one-character typo anywhere in the address', () => {
    const addr = encodeOnionAddress(ed25519.getPublicKey(new Uint8Array(32).fill(42)))
    for (let i = 0; i < ONION_ADDRESS_CHARS; i++) {
      for (const c of ['a', 'q', '7']) {
        if (addr[i] === c) continue
        const typo = addr.slice(0, i) + c + addr.slice(i + 1)
        assert.throws(() => decodeOnionAddress(typo), isAddressError, `${c} at ${i}`)
        assert.equal(isOnionAddress(typo), false)
      }
    }
  })

  it('refuses wrong lengths, characters, versions and TLDs', () => {
    const addr = encodeOnionAddress(ed25519.getPublicKey(new Uint8Array(32).fill(1)))
    const label = addr.slice(0, ONION_ADDRESS_CHARS)
    for (const bad of [label, `${label}.peer`, `${label.slice(1)}.peerd`, `${label}a.peerd`, `${label.slice(0, 55)}1.peerd`, `${label.slice(0, 55)}=.peerd`, '.peerd', '', `${label}.peerd..`, `${label}.peerd.com`, 'x'.repeat(300) + '.peerd']) {
      assert.throws(() => decodeOnionAddress(bad), isAddressError, bad)
    }
    // a version other than 3 with its checksum right
    const raw = base32.baseDecode(label)
    raw[34] = 4
    const sum = createHash('sha3-256').update('.peerd checksum').update(raw.subarray(0, 32)).update(Uint8Array.of(4)).digest()
    raw.set(sum.subarray(0, 2), 32)
    assert.throws(() => decodeOnionAddress(base32.baseEncode(raw) + '.peerd'), /version 4/)
    assert.throws(() => decodeOnionAddress(42 as unknown as string), isAddressError)
  })

  it('refuses keys outside Ed25519\'s prime-order subgroup, even with a right checksum', () => {
    const identity = hex('0100000000000000000000000000000000000000000000000000000000000000')
    const order8 = hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa')
    const mixed = ed25519.Point.fromBytes(ed25519.getPublicKey(new Uint8Array(32).fill(9))).add(ed25519.Point.fromBytes(order8)).toBytes()
    const notAPoint = hex('0200000000000000000000000000000000000000000000000000000000000000')
    for (const pub of [identity, order8, mixed, notAPoint]) {
      assert.throws(() => encodeOnionAddress(pub), isAddressError)
      assert.throws(() => decodeOnionAddress(forceAddress(pub)), isAddressError)
    }
    assert.throws(() => encodeOnionAddress(new Uint8Array(31)), isAddressError)
  })

  it('tells onion host names from others, valid or not, so none leaks to an exit', () => {
    const addr = encodeOnionAddress(ed25519.getPublicKey(new Uint8Array(32).fill(3)))
    for (const h of [addr, addr.toUpperCase(), `${addr}.`, `www.${addr}`, 'broken.peerd', 'x.PEERD.']) assert.ok(isOnionHost(h), h)
    for (const h of ['example.com', 'peerd', 'peerd.com', `${addr}.com`, '127.0.0.1']) assert.equal(isOnionHost(h), false, h)
    assert.equal(isOnionAddress('broken.peerd'), false)
  })
})
