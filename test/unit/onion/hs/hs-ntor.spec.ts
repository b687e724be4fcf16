/**
 * hs-ntor (`src/onion/hs/hs-ntor.ts`): Tor's vectors reproduce byte for byte (arti's INTRODUCE1
 * from C tor and chutney, the service's reply and the key material; the MAC's own vectors);
 * client and service agree on 128 bytes of keys; a changed byte anywhere in the introduction, a
 * wrong subcredential, auth key or encryption key, a tampered reply, a low-order key and a replay
 * are each an `HsHandshakeError`, never keys.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { ReplayFilter } from '../../../../src/onion/replay.ts'
import { RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from '../../../../src/onion/relay-crypto.ts'
import { HsHandshakeError } from '../../../../src/onion/hs/hs-errors.ts'
import { HS_NTOR_KEY_BYTES, HS_NTOR_OVERHEAD, HS_NTOR_REPLY_BYTES, hsMac, hsNtorClientComplete, hsNtorClientIntroduce, hsNtorServiceIntroduce } from '../../../../src/onion/hs/hs-ntor.ts'
import { x25519KeyPair } from '../../../../src/onion/hs/x25519.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function isHsHandshakeError (err: unknown): boolean {
  return err instanceof HsHandshakeError && err.name === 'HsHandshakeError'
}

// Source: arti (github.com/zydou/arti mirror, commit cadcd0d310831ba237fff4c1a39ef51c53b506db),
// crates/tor-proto/src/crypto/handshake/hs_ntor.rs, test `testvec` ("generated with C tor and chutney")
// and test `ntor_mac` (hs_ntor_ref.py); crates/tor-hscrypto/src/ops.rs, test `mac_testvec` (from C tor).
const V = {
  authKey: '34E171E4358E501BFF21ED907E96AC6BFEF697C779D040BBAF49ACC30FC5D21F',
  subcredential: '0085D26A9DEBA252263BF0231AEAC59B17CA11BAD8A218238AD6487CBAD68B57',
  B: '8E5127A40E83AABF6493E41F142B6EE3604B85A3961CD7E38D247239AFF71979',
  b: 'A0ED5DBF94EEB2EDB3B514E4CF6ABFF6022051CC5F103391F1970A3FCD15296A',
  x: '60B4D6BF5234DCF87A4E9D7487BDF3F4A69B6729835E825CA29089CFDDA1E341',
  y: '68CB5188CA0CD7924250404FAB54EE1392D3D2B9C049A2E446513875952F8F55',
  header: `000000000000000000000000000000000000000002002034E171E4358E501BFF
           21ED907E96AC6BFEF697C779D040BBAF49ACC30FC5D21F00`,
  body: `6BD364C12638DD5C3BE23D76ACA05B04E6CE932C0101000100200DE6130E4FCA
         C4EDDA24E21220CC3EADAE403EF6B7D11C8273AC71908DE565450300067F0000
         0113890214F823C4F8CC085C792E0AEE0283FE00AD7520B37D0320728D5DF39B
         7B7077A0118A900FF4456C382F0041300ACF9C58E51C392795EF870000000000
         0000000000000000000000000000000000000000000000000000000000000000
         000000000000000000000000000000000000000000000000000000000000`,
  cell: `000000000000000000000000000000000000000002002034E171E4358E501BFF
         21ED907E96AC6BFEF697C779D040BBAF49ACC30FC5D21F00BF04348B46D09AED
         726F1D66C618FDEA1DE58E8CB8B89738D7356A0C59111D5DADBECCCB38E37830
         4DCC179D3D9E437B452AF5702CED2CCFEC085BC02C4C175FA446525C1B9D5530
         563C362FDFFB802DAB8CD9EBC7A5EE17DA62E37DEEB0EB187FBB48C63298B0E8
         3F391B7566F42ADC97C46BA7588278273A44CE96BC68FFDAE31EF5F0913B9A9C
         7E0F173DBC0BDDCD4ACB4C4600980A7DDD9EAEC6E7F3FA3FC37CD95E5B8BFB3E
         35717012B78B4930569F895CB349A07538E42309C993223AEA77EF8AEA64F25D
         DEE97DA623F1AEC0A47F150002150455845C385E5606E41A9A199E7111D54EF2
         D1A51B7554D8B3692D85AC587FB9E69DF990EFB776D8`,
  reply: `8fbe0db4d4a9c7ff46701e3e0ee7fd05cd28be4f302460addeec9e93354ee700
          4A92E8437B8424D5E5EC279245D5C72B25A0327ACF6DAF902079FCB643D8B208`,
  keySeed: '4D0C72FE8AFF35559D95ECC18EB5A36883402B28CDFD48C8A530A5A3D7D578DB'
}

function fresh (): { authKey: Uint8Array, encKeyPair: ReturnType<typeof x25519KeyPair>, subcredential: Uint8Array, macPrefix: Uint8Array, plaintext: Uint8Array } {
  return {
    authKey: new Uint8Array(32).fill(7),
    encKeyPair: x25519KeyPair(),
    subcredential: new Uint8Array(32).fill(5),
    macPrefix: Uint8Array.from([1, 2, 3, ...new Uint8Array(32).fill(7)]),
    plaintext: Uint8Array.from({ length: 246 }, (_, i) => i)
  }
}

describe('hs-ntor', () => {
  it('reproduces the MAC vectors', () => {
    assert.equal(toHex(hsMac('who', 'knows?')), '5e7da329630fdaa3eab7498bb1dc625bbb9ca968f10392b6af92d51d5db17473')
    assert.equal(toHex(hsMac('gone', 'by')), '90071aabb06d3f7c777db41542f4790c7dd9e2e7b2b842f54c9c42bbdb37e9a0')
    assert.equal(toHex(hsMac("i'm from the past talking to the future.", 'i am in a library somewhere using my computer')), '753fba6d87d49497238a512a3772dd291e55f7d1cd332c9fb5c967c7a10a13ca')
    assert.equal(toHex(hsMac('hello', 'world')), toHex(createHash('sha3-256').update(hex('0000000000000005')).update('helloworld').digest()))
  })

  it('reproduces arti\'s INTRODUCE1, reply and key material from C tor', () => {
    const { encrypted, state } = hsNtorClientIntroduce({ authKey: hex(V.authKey), encKey: hex(V.B), subcredential: hex(V.subcredential), plaintext: hex(V.body), macPrefix: hex(V.header), ephemeralKey: hex(V.x) })
    assert.equal(toHex(Buffer.concat([hex(V.header), encrypted])), toHex(hex(V.cell)))
    const svc = hsNtorServiceIntroduce({ authKey: hex(V.authKey), encKeyPair: { publicKey: hex(V.B), privateKey: hex(V.b) }, subcredential: [new Uint8Array(32), hex(V.subcredential)], encrypted, macPrefix: hex(V.header), ephemeralKey: hex(V.y) })
    assert.equal(toHex(svc.plaintext), toHex(hex(V.body)))
    assert.equal(toHex(svc.reply), toHex(hex(V.reply)))
    assert.equal(toHex(svc.subcredential), toHex(hex(V.subcredential)))
    const keys = hsNtorClientComplete(state, svc.reply)
    const expected = createHash('shake256', { outputLength: 128 }).update(hex(V.keySeed)).update('tor-hs-ntor-curve25519-sha3-256-1:hs_key_expand').digest()
    assert.equal(toHex(keys), toHex(expected))
    assert.equal(toHex(svc.keys), toHex(expected))
  })

  it('client and service agree on keys that split into the four relay keys', () => {
    const f = fresh()
    const { encrypted, state } = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    assert.equal(encrypted.length, f.plaintext.length + HS_NTOR_OVERHEAD)
    assert.notEqual(toHex(encrypted.subarray(32, 32 + 246)), toHex(f.plaintext), 'the plaintext is encrypted')
    const svc = hsNtorServiceIntroduce({ ...f, encrypted })
    assert.deepEqual(svc.plaintext, f.plaintext)
    assert.equal(svc.reply.length, HS_NTOR_REPLY_BYTES)
    const keys = hsNtorClientComplete(state, svc.reply)
    assert.equal(keys.length, HS_NTOR_KEY_BYTES)
    assert.deepEqual(keys, svc.keys)
    assert.equal(HS_NTOR_KEY_BYTES, RELAY_KEY_MATERIAL_LEN)
    const k = splitRelayKeys(keys)
    assert.equal(new Set([k.df, k.db, k.kf, k.kb].map(toHex)).size, 4)
    // a second introduction gives other keys
    const again = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    const svc2 = hsNtorServiceIntroduce({ ...f, encrypted: again.encrypted })
    assert.notDeepEqual(hsNtorClientComplete(again.state, svc2.reply), keys)
  })

  it('refuses every changed byte of the introduction, its MAC prefix included', () => {
    const f = fresh()
    const { encrypted } = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    for (let i = 0; i < encrypted.length; i++) {
      const bad = Uint8Array.from(encrypted)
      bad[i] = bad[i]! ^ 0x01
      assert.throws(() => hsNtorServiceIntroduce({ ...f, encrypted: bad }), isHsHandshakeError, `byte ${i}`)
    }
    for (let i = 0; i < f.macPrefix.length; i++) {
      const prefix = Uint8Array.from(f.macPrefix)
      prefix[i] = prefix[i]! ^ 0x80
      assert.throws(() => hsNtorServiceIntroduce({ ...f, macPrefix: prefix, encrypted }), isHsHandshakeError)
    }
    assert.throws(() => hsNtorServiceIntroduce({ ...f, encrypted: encrypted.subarray(0, encrypted.length - 1) }), isHsHandshakeError)
    assert.throws(() => hsNtorServiceIntroduce({ ...f, encrypted: encrypted.subarray(0, 63) }), isHsHandshakeError)
  })

  it('refuses a wrong subcredential, auth key or encryption key', () => {
    const f = fresh()
    const { encrypted } = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    assert.throws(() => hsNtorServiceIntroduce({ ...f, subcredential: new Uint8Array(32).fill(6), encrypted }), isHsHandshakeError)
    assert.throws(() => hsNtorServiceIntroduce({ ...f, authKey: new Uint8Array(32).fill(8), encrypted }), isHsHandshakeError)
    assert.throws(() => hsNtorServiceIntroduce({ ...f, encKeyPair: x25519KeyPair(), encrypted }), isHsHandshakeError)
    assert.throws(() => hsNtorServiceIntroduce({ ...f, subcredential: [], encrypted }), isHsHandshakeError)
  })

  it('the client refuses a tampered reply and a reply from another service', () => {
    const f = fresh()
    const { encrypted, state } = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    const { reply } = hsNtorServiceIntroduce({ ...f, encrypted })
    for (let i = 0; i < reply.length; i++) {
      const bad = Uint8Array.from(reply)
      bad[i] = bad[i]! ^ 0x04
      assert.throws(() => hsNtorClientComplete(state, bad), isHsHandshakeError, `byte ${i}`)
    }
    assert.throws(() => hsNtorClientComplete(state, reply.subarray(1)), isHsHandshakeError)
    // another service that somehow got the same introduction cannot answer it
    const other = { ...f, encKeyPair: x25519KeyPair() }
    const forged = hsNtorClientIntroduce({ ...other, encKey: other.encKeyPair.publicKey })
    const otherReply = hsNtorServiceIntroduce({ ...other, encrypted: forged.encrypted }).reply
    assert.throws(() => hsNtorClientComplete(state, otherReply), isHsHandshakeError)
  })

  it('refuses low-order keys and a replayed introduction', () => {
    const f = fresh()
    const zero = new Uint8Array(32)
    assert.throws(() => hsNtorClientIntroduce({ ...f, encKey: zero }), isHsHandshakeError)
    const { encrypted, state } = hsNtorClientIntroduce({ ...f, encKey: f.encKeyPair.publicKey })
    const lowX = Uint8Array.from(encrypted)
    lowX.set(zero)
    assert.throws(() => hsNtorServiceIntroduce({ ...f, encrypted: lowX }), isHsHandshakeError)
    assert.throws(() => hsNtorClientComplete(state, new Uint8Array(64)), isHsHandshakeError)
    const replay = new ReplayFilter()
    hsNtorServiceIntroduce({ ...f, encrypted, replay })
    assert.throws(() => hsNtorServiceIntroduce({ ...f, encrypted, replay }), isHsHandshakeError)
    assert.throws(() => hsNtorClientIntroduce({ ...f, authKey: new Uint8Array(31), encKey: f.encKeyPair.publicKey }), isHsHandshakeError)
  })
})
