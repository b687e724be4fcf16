/**
 * CID prefixes, as Bitswap 1.1.0+ sends them in front of each block: four varints, CID version,
 * content codec, multihash code and digest length. The receiver hashes the data to rebuild the
 * CID, so a block can never be stored under a CID its bytes do not hash to.
 */
import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { IDENTITY, MAX_CID_BYTES, MAX_IDENTITY_DIGEST, SHA2_256, checkCid } from '../block.ts'
import { InvalidBitswapMessageError } from './errors.ts'

/** The four numbers of a CID prefix. */
export interface CidPrefix {
  version: 0 | 1
  codec: number
  hashCode: number
  hashLength: number
}

/** The prefix bytes of `cid`. */
export function encodePrefix (cid: CID): Uint8Array {
  const values = [cid.version, cid.code, cid.multihash.code, cid.multihash.size]
  const out = new Uint8Array(values.reduce((n, v) => n + varint.encodingLength(v), 0))
  let offset = 0
  for (const v of values) {
    varint.encodeTo(v, out, offset)
    offset += varint.encodingLength(v)
  }
  return out
}

/** Parses prefix bytes; throws {@link InvalidBitswapMessageError} unless exactly four minimal varints. */
export function decodePrefix (bytes: Uint8Array): CidPrefix {
  if (bytes.length === 0 || bytes.length > MAX_CID_BYTES) throw new InvalidBitswapMessageError(`block prefix of ${bytes.length} bytes`)
  const values: number[] = []
  let offset = 0
  try {
    for (let i = 0; i < 4; i++) {
      const [value, read] = varint.decode(bytes, offset)
      values.push(value)
      offset += read
    }
  } catch (err) {
    throw new InvalidBitswapMessageError('malformed block prefix', { cause: err })
  }
  if (offset !== bytes.length) throw new InvalidBitswapMessageError('trailing bytes after the block prefix')
  const [version, codec, hashCode, hashLength] = values as [number, number, number, number]
  if (version !== 0 && version !== 1) throw new InvalidBitswapMessageError(`block prefix has CID version ${version}`)
  if (version === 0 && (codec !== dagPb.code || hashCode !== SHA2_256 || hashLength !== 32)) {
    throw new InvalidBitswapMessageError('a CIDv0 block prefix must be dag-pb with a 32-byte sha2-256')
  }
  return { version, codec, hashCode, hashLength }
}

/**
 * The CID that `data` has under `prefix`: the data is hashed here, never trusted. Returns
 * undefined for a well-formed prefix of a kind peerd does not handle (another codec or hash):
 * such a block can never be one peerd asked for. Throws on a truncated sha2-256, which peerd
 * never uses either, so nobody honest sends it.
 */
export function cidFromPrefix (prefix: CidPrefix, data: Uint8Array): CID | undefined {
  let digest: Digest.Digest<number, number>
  if (prefix.hashCode === SHA2_256) {
    if (prefix.hashLength !== 32) throw new InvalidBitswapMessageError(`sha2-256 prefix with a ${prefix.hashLength}-byte digest`)
    digest = Digest.create(SHA2_256, createHash('sha256').update(data).digest())
  } else if (prefix.hashCode === IDENTITY) {
    if (prefix.hashLength !== data.length || data.length > MAX_IDENTITY_DIGEST) return undefined
    digest = Digest.create(IDENTITY, data)
  } else {
    return undefined
  }
  const cid = prefix.version === 0 ? CID.createV0(digest as Digest.Digest<typeof SHA2_256, 32>) : CID.createV1(prefix.codec, digest)
  try {
    checkCid(cid)
  } catch {
    return undefined
  }
  return cid
}
