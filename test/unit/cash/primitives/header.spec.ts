/**
 * The 80-byte header codec against mainnet headers (genesis, block 100000): field values and
 * hashes from test/vectors/bitcoin-blocks.json, which names their sources.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { DecodeError } from '../../../../src/cash/primitives/errors.ts'
import { hashToHex, hexToHash } from '../../../../src/cash/primitives/hash.ts'
import { HEADER_SIZE, decodeHeader, encodeHeader, headerHash } from '../../../../src/cash/primitives/header.ts'
import type { BlockHeader } from '../../../../src/cash/primitives/header.ts'

interface HeaderVector { version: number, prevHash: string, merkleRoot: string, time: number, bits: number, nonce: number }
interface BlockVector { name: string, hex: string, hash: string, header: HeaderVector }
const vectors = JSON.parse(await readFile(new URL('../../../vectors/bitcoin-blocks.json', import.meta.url), 'utf8')) as { blocks: BlockVector[] }

function isDecodeError (reason: string) {
  return (err: unknown) => err instanceof DecodeError && err.name === 'DecodeError' && err.reason === reason
}

describe('block header codec', () => {
  for (const v of vectors.blocks) {
    it(`${v.name}: decodes its fields, re-encodes the same 80 bytes, hashes to ${v.hash.slice(0, 16)}…`, () => {
      const bytes = Buffer.from(v.hex, 'hex').subarray(0, HEADER_SIZE)
      const header = decodeHeader(bytes)
      assert.equal(header.version, v.header.version)
      assert.equal(hashToHex(header.prevHash), v.header.prevHash)
      assert.equal(hashToHex(header.merkleRoot), v.header.merkleRoot)
      assert.equal(header.time, v.header.time)
      assert.equal(header.bits, v.header.bits)
      assert.equal(header.nonce, v.header.nonce)
      assert.deepEqual(encodeHeader(header), new Uint8Array(bytes))
      assert.equal(hashToHex(headerHash(header)), v.hash)
    })
  }

  it('keeps the version signed and the other integers unsigned', () => {
    const header: BlockHeader = {
      version: -1, prevHash: new Uint8Array(32).fill(1), merkleRoot: new Uint8Array(32).fill(2), time: 0xffffffff, bits: 0x80000000, nonce: 0xfffffffe
    }
    const bytes = encodeHeader(header)
    assert.equal(bytes.length, HEADER_SIZE)
    assert.deepEqual([...bytes.subarray(0, 4)], [0xff, 0xff, 0xff, 0xff])
    assert.deepEqual(decodeHeader(bytes), header)
    assert.equal(decodeHeader(encodeHeader({ ...header, version: 0x20000000 })).version, 0x20000000)
  })

  it('rejects anything but exactly 80 bytes', () => {
    const bytes = Buffer.from(vectors.blocks[0]?.hex ?? '', 'hex')
    for (const n of [0, 79, 81, 285]) assert.throws(() => decodeHeader(bytes.subarray(0, n)), isDecodeError('header-size'), `${n} bytes`)
  })

  it('refuses to encode out-of-range fields', () => {
    const ok: BlockHeader = { version: 1, prevHash: new Uint8Array(32), merkleRoot: hexToHash(vectors.blocks[0]?.header.merkleRoot ?? ''), time: 0, bits: 0, nonce: 0 }
    for (const bad of [{ version: 0x80000000 }, { version: 1.5 }, { time: -1 }, { bits: 2 ** 32 }, { nonce: Number.NaN }, { prevHash: new Uint8Array(31) }, { merkleRoot: new Uint8Array(33) }]) {
      assert.throws(() => encodeHeader({ ...ok, ...bad }), RangeError, JSON.stringify(bad))
    }
  })
})
