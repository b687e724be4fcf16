/**
 * Block helpers: which CIDs peerd accepts, verifying bytes against a CID, and the links of a
 * dag-pb node. Only sha2-256 multihashes (and identity, whose bytes are the CID itself) are
 * accepted, and only the raw and dag-pb codecs: the formats of UnixFS data.
 */
import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { InvalidArgumentError } from '../errors.ts'

/** Multicodec code of sha2-256. */
export const SHA2_256 = 0x12
/** Multicodec code of the identity hash. */
export const IDENTITY = 0x00
/** Largest block peerd stores, sends or accepts (1 MiB chunks plus dag-pb framing; Bitswap's limit is 2 MiB). */
export const MAX_BLOCK_SIZE = 2 * 1024 * 1024
/**
 * Longest identity digest accepted: the block inlined in an identity CID (boxo's
 * verifcid.DefaultMaxIdentityDigestSize; Kubo's `--inline-limit` stops there too).
 */
export const MAX_IDENTITY_DIGEST = 128
/**
 * Longest CID accepted in a message: a CIDv1 of raw or dag-pb with the longest identity digest
 * (version, codec, hash code, a 2-byte length, 128 bytes); a sha2-256 CIDv1 is 36 bytes.
 */
export const MAX_CID_BYTES = 5 + MAX_IDENTITY_DIGEST

/** An identity CID inlines more than {@link MAX_IDENTITY_DIGEST} bytes. */
export class IdentityTooLargeError extends InvalidArgumentError {
  static override name = 'IdentityTooLargeError'
}

/** Whether `cid` uses the identity hash: its block is its digest. */
export function isIdentity (cid: CID): boolean {
  return cid.multihash.code === IDENTITY
}

/**
 * The block of an identity CID (its digest: the data is in the CID itself, so it is never
 * fetched nor stored), or undefined for any other CID.
 */
export function identityBlock (cid: CID): Uint8Array | undefined {
  if (!isIdentity(cid)) return undefined
  if (cid.multihash.size > MAX_IDENTITY_DIGEST) throw new IdentityTooLargeError(`an identity CID inlines ${cid.multihash.size} bytes, over the ${MAX_IDENTITY_DIGEST} peerd accepts`)
  return cid.multihash.digest
}

/** Parses a CID string, accepting only codecs and hashes peerd handles. */
export function parseCid (s: string): CID {
  let cid: CID
  try {
    cid = CID.parse(s.trim())
  } catch (err) {
    throw new InvalidArgumentError(`invalid CID "${s}": ${(err as Error).message}`, { cause: err })
  }
  checkCid(cid)
  return cid
}

/** Throws unless `cid` uses raw or dag-pb and sha2-256 (or identity, up to {@link MAX_IDENTITY_DIGEST} bytes). */
export function checkCid (cid: CID): void {
  if (cid.code !== raw.code && cid.code !== dagPb.code) {
    throw new InvalidArgumentError(`unsupported CID codec 0x${cid.code.toString(16)} in ${cid.toString()}: peerd handles raw and dag-pb (UnixFS)`)
  }
  if (cid.multihash.code !== SHA2_256 && cid.multihash.code !== IDENTITY) {
    throw new InvalidArgumentError(`unsupported hash 0x${cid.multihash.code.toString(16)} in ${cid.toString()}: peerd handles sha2-256`)
  }
  identityBlock(cid)
}

/** Decodes CID bytes from the wire; undefined when malformed or of a kind peerd does not handle. */
export function decodeCid (bytes: Uint8Array): CID | undefined {
  if (bytes.length === 0 || bytes.length > MAX_CID_BYTES) return undefined
  try {
    const cid = CID.decode(bytes)
    checkCid(cid)
    // only the canonical encoding: no other byte string may name the same CID
    if (Buffer.compare(Buffer.from(cid.bytes), Buffer.from(bytes)) !== 0) return undefined
    return cid
  } catch {
    return undefined
  }
}

/**
 * Whether `bytes` (one buffer, or chunks in order) hash to `cid`'s multihash. It hashes on the
 * calling thread: a download that hashed on libuv's thread pool or on a worker was slower on two
 * cores (docs/benchmarks.md, "Hashing on the main thread", profiled with `bench/share/profile.ts`).
 */
export function verifyBlock (cid: CID, bytes: Uint8Array | Iterable<Uint8Array>): boolean {
  const mh = cid.multihash
  if (mh.code === IDENTITY) {
    const all = bytes instanceof Uint8Array ? bytes : Buffer.concat([...bytes])
    return Buffer.compare(Buffer.from(mh.digest), Buffer.from(all)) === 0
  }
  if (mh.code !== SHA2_256 || mh.size !== 32) return false
  const hash = createHash('sha256')
  if (bytes instanceof Uint8Array) hash.update(bytes)
  else for (const chunk of bytes) hash.update(chunk)
  return Buffer.compare(hash.digest(), Buffer.from(mh.digest)) === 0
}

/** The child CIDs of a block (none for raw blocks), in link order. */
export function childLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map(l => l.Hash)
}

/** A stable string key for a block: its multihash in base32, so CIDv0 and v1 share a block. */
export function blockKey (cid: CID): string {
  return CID.createV1(raw.code, cid.multihash).toString().slice(1) // base32 without the multibase prefix
}
