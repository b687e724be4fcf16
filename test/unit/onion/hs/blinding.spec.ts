/**
 * Time periods and key blinding (`src/onion/hs/blinding.ts`): Tor's time-period vector, C tor's
 * key-blinding vectors (blinding factor, blinded public key, blinded secret key, subcredential)
 * reproduce byte for byte; a blinded signature verifies as plain Ed25519 under A' and under
 * nothing else; A' and the subcredential change every period, and linking them takes the address.
 */
import assert from 'node:assert/strict'
import { verify as nodeVerify, createPublicKey } from 'node:crypto'
import { describe, it } from 'node:test'
import { ed25519 } from '@noble/curves/ed25519.js'
import { InvalidArgumentError } from '../../../../src/errors.ts'
import { blindExpandedKey, blindKeyPair, blindPublicKey, blindingFactor, credential, subcredential, timePeriod, verifyBlinded } from '../../../../src/onion/hs/blinding.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const msg = new TextEncoder().encode('hello world')

// Source: arti (github.com/zydou/arti mirror, commit cadcd0d310831ba237fff4c1a39ef51c53b506db),
// crates/tor-hscrypto/src/time.rs, test `check_testvec` ("test case from C tor, taken from rend-spec").
// crates/tor-hscrypto/src/pk.rs, test `key_blinding_testvec` ("generated with C tor").
const KB = {
  identity: '833990B085C1A688C1D4C8B1F6B56AFAF5A2ECA674449E1D704F83765CCB7BC6',
  expanded: 'D8C7FF0E31295B66540D789AF3E3DF992038A9592EEA01D8B7CBA06D6E66D1594D6167696320576F7264733A20737065697373636F62616C742062697669756D',
  when: '1973-05-20T01:50:33Z',
  h: '379E50DB31FEE6775ABD0AF6FB7C371E060308F4F847DB09FE4CFE13AF602287',
  blindedPub: '3A50BF210E8F9EE955AE0014F7A6917FB65EBF098A86305ABB508D1A7291B6D5',
  subcredential: '635D55907816E8D76398A675A50B1C2F3E36B42A5CA77BA3A0441285161AE07D',
  blindedSecret: 'A958DC83AC885F6814C67035DE817A2C604D5D2F715282079448F789B656350B4540FE1F80AA3F7E91306B7BF7A8E367293352B14A29FDCC8C19F3558075524B'
}

// Source: arti, crates/tor-llcrypto/src/pk/keymanip.rs, test `blinding` (C tor's
// src/test/ed25519_exts_ref.py output): seed, C tor's expanded secret, public key, blinding
// parameter h, blinded public key, blinded expanded secret.
const BLINDING: Array<[string, string, string, string, string, string]> = [
  ['26c76712d89d906e6672dafa614c42e5cb1caac8c6568e4d2493087db51f0d36', 'c0a4de23cc64392d85aa1da82b3defddbea946d13bb053bf8489fa9296281f495022f1f7ec0dcf52f07d4c7965c4eaed121d5d88d0a8ff546b06116a20e97755', 'c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894', '54a513898b471d1d448a2f3c55c1de2c0ef718c447b04497eeb999ed32027823', '1fc1fa4465bd9d4956fdbdc9d3acb3c7019bb8d5606b951c2e1dfe0b42eaeb41', '293c3acff4e902f6f63ddc5d5caa2a57e771db4f24de65d4c28df3232f47fa01171d43f24e3f53e70ec7ac280044ac77d4942dee5d6807118a59bdf3ee647e89'],
  ['fba7a5366b5cb98c2667a18783f5cf8f4f8d1a2ce939ad22a6e685edde85128d', '18a8a69a06790dac778e882f7e868baacfa12521a5c058f5194f3a729184514a2a656fe7799c3e41f43d756da8d9cd47a061316cfe6147e23ea2f90d1ca45f30', '1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d', '831e9b5325b5d31b7ae6197e9c7a7baf2ec361e08248bce055908971047a2347', '1cbbd4a88ce8f165447f159d9f628ada18674158c4f7c5ead44ce8eb0fa6eb7e', '38b88f9f9440358da544504ee152fb475528f7c51c285bd1c68b14ade8e29a07b8ceff20dfcf53eb52b891fc078c934efbf0353af7242e7dc51bb32a093afa29'],
  ['67e3aa7a14fac8445d15e45e38a523481a69ae35513c9e4143eb1c2196729a0e', '58d84f8862d2ecfa30eb491a81c36d05b574310ea69dae18ecb57e992a896656b982187ee96c15bf4caeeab2d0b0ae4cd0b8d17470fc7efa98bb26428f4ef36d', '081faa81992e360ea22c06af1aba096e7a73f1c665bc8b3e4e531c46455fd1dd', 'ac78a1d46faf3bfbbdc5af5f053dc6dc9023ed78236bec1760dadfd0b2603760', 'c5419ad133ffde7e0ac882055d942f582054132b092de377d587435722deb028', '4d03ce16a3f3249846aac9de0a0075061495c3b027248eeee47da4ddbaf9e0049217f52e92797462bd890fc274672e05c98f2c82970d640084781334aae0f940'],
  ['d51385942033a76dc17f089a59e6a5a7fe80d9c526ae8ddd8c3a506b99d3d0a6', '50702d20b3550c6e16033db5ad4fba16436f1ecc7485be6af62b0732ceb5d173c47ccd9d044b6ea99dd99256adcc9c62191be194e7cb1a5b58ddcec85d876a2b', '73cfa1189a723aad7966137cbffa35140bb40d7e16eae4c40b79b5f0360dd65a', 'f9c84dc0ac31571507993df94da1b3d28684a12ad14e67d0a068aba5c53019fc', '3e08d0dc291066272e313014bfac4d39ad84aa93c038478a58011f431648105f', '51d7db01aaa0d937a9fd7c8c7381445a14d8fa61f43347af5460d7cd8fda9904509ecee77082ce088f7c19d5a00e955eeef8df6fa41686abc1030c2d76807733'],
  ['5c8eac469bb3f1b85bc7cd893f52dc42a9ab66f1b02b5ce6a68e9b175d3bb433', '7077464c864c2ed5ed21c9916dc3b3ba6256f8b742fec67658d8d233dadc8d5a7a82c371083cc86892c2c8782dda2a09b6baf016aec51b689183ae59ce932ff2', '66c1a77104d86461b6f98f73acf3cd229c80624495d2d74d6fda1e940080a96b', 'b1fe79d1dec9bc108df69f6612c72812755751f21ecc5af99663b30be8b9081f', '59381f06acb6bf1389ba305f70874eed3e0f2ab57cdb7bc69ed59a9b8899ff4d', '1f76cab834e222bd2546efa7e073425680ab88df186ff41327d3e40770129b00b57b95a440570659a440a3e4771465022a8e67af86bdf2d0990c54e7bb87ff9a'],
  ['eda433d483059b6d1ff8b7cfbd0fe406bfb23722c8f3c8252629284573b61b86', '8883c1387a6c86fc0bd7b9f157b4e4cd83f6885bf55e2706d2235d4527a2f05311a3595953282e436df0349e1bb313a19b3ddbf7a7b91ecce8a2c34abadb38b3', 'd21c294db0e64cb2d8976625786ede1d9754186ae8197a64d72f68c792eecc19', '81f1512b63ab5fb5c1711a4ec83d379c420574aedffa8c3368e1c3989a3a0084', '2b946a484344eb1c17c89dd8b04196a84f3b7222c876a07a4cece85f676f87d9', 'c23588c23ee76093419d07b27c6df5922a03ac58f96c53671456a7d1bdbf560ec492fc87d5ec2a1b185ca5a40541fdef0b1e128fd5c2380c888bfa924711bcab'],
  ['4377c40431c30883c5fbd9bc92ae48d1ed8a47b81d13806beac5351739b5533d', '186791ac8d03a3ac8efed6ac360467edd5a3bed2d02b3be713ddd5be53b3287ee37436e5fd7ac43794394507ad440ecfdf59c4c255f19b768a273109e06d7d8e', 'c4d58b4cf85a348ff3d410dd936fa460c4f18da962c01b1963792b9dcc8a6ea6', '97f45142597c473a4b0e9a12d64561133ad9e1155fe5a9807fe6af8a93557818', 'c6b585129b135f8769df2eba987e76e089e80ba3a2a6729134d3b28008ac098e', '3ed249c6932d076e1a2f6916975914b14e8c739da00992358b8f37d3e790650691b4768f8e556d78f4bdcb9a13b6f6066fe81d3134ae965dc48cd0785b3af2b8'],
  ['c6bbcce615839756aed2cc78b1de13884dd3618f48367a17597a16c1cd7a290b', 'b003077c1e52a62308eef7950b2d532e1d4a7eea50ad22d8ac11b892851f1c40ffb9c9ff8dcd0c6c233f665a2e176324d92416bfcfcd1f787424c0c667452d86', '95126f14d86494020665face03f2d42ee2b312a85bc729903eb17522954a1c4a', '3f44f6a5a92cde816635dfc12ade70539871078d2ff097278be2a555c9859cd0', '0eefdc795b59cabbc194c6174e34ba9451e8355108520554ec285acabebb34ac', '288cbfd923cb286d48c084555b5bdd06c05e92fb81acdb45271367f57515380e053d9c00c81e1331c06ab50087be8cfc7dc11691b132614474f1aa9c2503cccd'],
  ['c6bbcce615839756aed2cc78b1de13884dd3618f48367a17597a16c1cd7a290b', 'b003077c1e52a62308eef7950b2d532e1d4a7eea50ad22d8ac11b892851f1c40ffb9c9ff8dcd0c6c233f665a2e176324d92416bfcfcd1f787424c0c667452d86', '95126f14d86494020665face03f2d42ee2b312a85bc729903eb17522954a1c4a', '0000000000000000000000000000000000000000000000000000000000000000', '312404d06a0a9de489904b18d5233e83a50b225977fa8734f2c897a73c067952', 'e5cd03eb4cc456e11bc36724b558873df0045729b22d8b748360067a7770ac02053d9c00c81e1331c06ab50087be8cfc7dc11691b132614474f1aa9c2503cccd'],
  ['c6bbcce615839756aed2cc78b1de13884dd3618f48367a17597a16c1cd7a290b', 'b003077c1e52a62308eef7950b2d532e1d4a7eea50ad22d8ac11b892851f1c40ffb9c9ff8dcd0c6c233f665a2e176324d92416bfcfcd1f787424c0c667452d86', '95126f14d86494020665face03f2d42ee2b312a85bc729903eb17522954a1c4a', '1111111111111111111111111111111111111111111111111111111111111111', '952a908a4a9e0e5176a2549f8f328955aca6817a9fdc59e3acec5dec50838108', '2cf7ed8b163f5af960d2fc62e1883aa422a6090736b4f18a5456ddcaf78ede0c053d9c00c81e1331c06ab50087be8cfc7dc11691b132614474f1aa9c2503cccd']
]

function hamming (a: Uint8Array, b: Uint8Array): number {
  let n = 0
  for (let i = 0; i < a.length; i++) for (let v = (a[i] as number) ^ (b[i] as number); v !== 0; v &= v - 1) n++
  return n
}

describe('time periods', () => {
  it('numbers periods as rend-spec-v3 does (Tor\'s vector)', () => {
    const at = (s: string): number => Date.parse(s)
    assert.equal(timePeriod(at('2016-04-13T11:00:00Z')).number, 16903)
    assert.equal(timePeriod(at('2016-04-13T11:59:59Z')).number, 16903)
    const p = timePeriod(at('2016-04-13T12:00:00Z'))
    assert.equal(p.number, 16904)
    assert.equal(p.startMs, at('2016-04-13T12:00:00Z'))
    assert.equal(p.endMs, at('2016-04-14T12:00:00Z'))
    assert.equal(timePeriod(at('2016-04-13T11:00:00Z')).startMs, at('2016-04-12T12:00:00Z'))
    assert.equal(timePeriod(at(KB.when)).number, 1234)
  })

  it('takes short periods for tests, each starting where the last ended', () => {
    const now = Date.parse('2030-01-01T00:00:30Z')
    const p = timePeriod(now, 1)
    assert.ok(p.startMs <= now && now < p.endMs)
    assert.equal(p.endMs - p.startMs, 60_000)
    const next = timePeriod(p.endMs, 1)
    assert.equal(next.number, p.number + 1)
    assert.equal(next.startMs, p.endMs)
    assert.equal(timePeriod(p.endMs - 1, 1).number, p.number)
    for (const bad of [0, -1, 1.5, 14401, Number.NaN]) assert.throws(() => timePeriod(now, bad), InvalidArgumentError)
    assert.throws(() => timePeriod(0), InvalidArgumentError, 'before the first period')
  })
})

describe('key blinding', () => {
  it('reproduces C tor\'s blinding factor, blinded keys and subcredential', () => {
    const id = hex(KB.identity)
    const period = timePeriod(Date.parse(KB.when))
    assert.equal(toHex(blindingFactor(id, period)), KB.h.toLowerCase())
    const A2 = blindPublicKey(id, period)
    assert.equal(toHex(A2), KB.blindedPub.toLowerCase())
    assert.equal(toHex(subcredential(id, A2)), KB.subcredential.toLowerCase())
    const blinded = blindExpandedKey(hex(KB.expanded), hex(KB.h))
    assert.equal(toHex(blinded.expandedSecret), KB.blindedSecret.toLowerCase())
    assert.deepEqual(blinded.publicKey, A2)
    assert.ok(verifyBlinded(blinded.sign(msg), msg, A2))
  })

  it('reproduces C tor\'s ten blinded key pairs, whose signatures verify', () => {
    for (const [seed, expanded, pub, h, blindedPub, blindedSecret] of BLINDING) {
      assert.equal(toHex(ed25519.getPublicKey(hex(seed))), pub)
      const ext = ed25519.utils.getExtendedPublicKey(hex(seed))
      assert.equal(toHex(ext.prefix), expanded.slice(64))
      const blinded = blindExpandedKey(hex(expanded), hex(h))
      assert.equal(toHex(blinded.publicKey), blindedPub)
      assert.equal(toHex(blinded.expandedSecret), blindedSecret)
      const sig = blinded.sign(msg)
      assert.ok(verifyBlinded(sig, msg, blinded.publicKey))
      assert.ok(ed25519.verify(sig, msg, blinded.publicKey, { zip215: false }), 'a strict RFC 8032 verifier agrees')
    }
  })

  it('the service\'s blinded pair matches what a client derives from the address, and signs only for A\'', () => {
    const seed = new Uint8Array(32).fill(11)
    const A = ed25519.getPublicKey(seed)
    const period = timePeriod(Date.parse('2031-02-03T04:05:06Z'))
    const pair = blindKeyPair(seed, period)
    assert.deepEqual(pair.publicKey, blindPublicKey(A, period))
    const sig = pair.sign(msg)
    assert.equal(sig.length, 64)
    assert.ok(verifyBlinded(sig, msg, pair.publicKey))
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pair.publicKey])
    assert.ok(nodeVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig), 'OpenSSL\'s Ed25519 agrees')
    assert.equal(verifyBlinded(sig, msg, A), false, 'not a signature of the identity key')
    assert.equal(verifyBlinded(sig, new TextEncoder().encode('hello worle'), pair.publicKey), false)
    for (let i = 0; i < 64; i += 7) {
      const bad = Uint8Array.from(sig)
      bad[i] = bad[i]! ^ 0x10
      assert.equal(verifyBlinded(bad, msg, pair.publicKey), false, `byte ${i}`)
    }
    assert.equal(verifyBlinded(sig.subarray(1), msg, pair.publicKey), false)
    assert.equal(verifyBlinded(sig, msg, new Uint8Array(31)), false)
    assert.equal(verifyBlinded(sig, msg, new Uint8Array(32).fill(0xff)), false)
  })

  it('changes A\' and the subcredential every period, unlinkably without the address', () => {
    const seed = new Uint8Array(32).fill(12)
    const A = ed25519.getPublicKey(seed)
    const first = timePeriod(Date.parse('2031-01-01T12:00:00Z'))
    const keys: Uint8Array[] = []
    for (let i = 0; i < 8; i++) keys.push(blindPublicKey(A, timePeriod(first.startMs + i * 86_400_000)))
    const subs = keys.map(k => toHex(subcredential(A, k)))
    assert.equal(new Set(keys.map(toHex)).size, 8)
    assert.equal(new Set(subs).size, 8)
    assert.ok(keys.every(k => toHex(k) !== toHex(A)))
    // the same period with another length is another key too
    assert.notDeepEqual(blindPublicKey(A, { ...first, lengthMinutes: 60 }), keys[0])
    // keys of consecutive periods share no more bits than random strings do (128 ± a few σ of 8)
    for (let i = 0; i < 8; i++) for (let j = i + 1; j < 8; j++) {
      const d = hamming(keys[i]!, keys[j]!)
      assert.ok(d > 88 && d < 168, `distance ${d}`)
    }
    // linking takes the exact address: a neighbouring key gives keys that match none of these
    const other = ed25519.getPublicKey(new Uint8Array(32).fill(13))
    assert.ok(!keys.some(k => toHex(k) === toHex(blindPublicKey(other, first))))
    // and the credential (the secret part of the subcredential) needs A itself
    assert.notDeepEqual(credential(A), credential(other))
  })

  it('refuses keys outside the prime-order subgroup and bad arguments', () => {
    const period = timePeriod(Date.parse('2031-01-01T00:00:00Z'))
    const order8 = hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa')
    assert.throws(() => blindPublicKey(order8, period), InvalidArgumentError)
    assert.throws(() => blindPublicKey(new Uint8Array(31), period), InvalidArgumentError)
    assert.throws(() => blindPublicKey(ed25519.getPublicKey(new Uint8Array(32)), { ...period, number: -1 }), InvalidArgumentError)
    assert.throws(() => blindKeyPair(new Uint8Array(16), period), InvalidArgumentError)
    assert.throws(() => blindExpandedKey(new Uint8Array(64), new Uint8Array(32)), InvalidArgumentError)
  })
})
