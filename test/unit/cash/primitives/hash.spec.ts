import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { DecodeError } from '../../../../src/cash/primitives/errors.ts'
import { bytesEqual, hashToHex, hexToHash, sha256d } from '../../../../src/cash/primitives/hash.ts'

const GENESIS_HASH = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f'

describe('cash hash helpers', () => {
  it('sha256d is sha256 applied twice', () => {
    for (const data of [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(80).fill(0xab)]) {
      const once = createHash('sha256').update(data).digest()
      const twice = createHash('sha256').update(once).digest()
      assert.deepEqual(sha256d(data), new Uint8Array(twice))
    }
  })

  it('display hex is the internal bytes reversed, both ways', () => {
    const internal = hexToHash(GENESIS_HASH)
    // The genesis hash's leading zeros are the last bytes internally (bcoin's main.genesis.hash).
    assert.equal(Buffer.from(internal).toString('hex'), '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000')
    assert.equal(hashToHex(internal), GENESIS_HASH)
  })

  it('rejects hashes that are not 32 bytes or not hex', () => {
    assert.throws(() => hashToHex(new Uint8Array(31)), RangeError)
    assert.throws(() => hexToHash(GENESIS_HASH.slice(2)), (err: unknown) => err instanceof DecodeError && err.reason === 'hash-size')
    assert.throws(() => hexToHash('zz' + GENESIS_HASH.slice(2)), (err: unknown) => err instanceof DecodeError && err.reason === 'hex-invalid' && err.name === 'DecodeError')
  })

  it('bytesEqual compares contents', () => {
    assert.ok(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)))
    assert.ok(!bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)))
    assert.ok(!bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 0)))
  })
})
