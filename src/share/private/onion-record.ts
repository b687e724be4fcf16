/**
 * Share records by onion address (`peerd share --private`): the DHT key
 * `/peerd-share-hs/<network>/<root's multihash>` holds the onion services that serve a root, so a
 * private sharer is announced by its service's address and never by its peer id.
 *
 * Value: magic `peerd-share-hs\x01` | count (u8, 1 to {@link MAX_ENTRIES}) | per entry: the
 * service's Ed25519 public key (32, the key its `.peerd` address encodes) | expiresAt (u64 BE,
 * unix seconds) | signature (64) by that key over `peerd-share-hs-v1\0` | DHT key | public key |
 * expiresAt. Several sharers of one root merge their entries into one record (each signs only
 * its own), the DHT selector keeps the record with the most live entries. The validator checks
 * the size before decoding, every signature, distinct keys, at least one live entry, and no
 * expiry past {@link MAX_LIFETIME_SEC} from now.
 * @module
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { PeerdError } from '../../errors.ts'

/** DHT namespace (validator and selector key) of share records. */
export const SHARE_HS_NAMESPACE = 'peerd-share-hs'
/** Entries (sharers) one record holds at most. */
export const MAX_ENTRIES = 8
/** How far ahead an entry may expire: republished hourly, an entry lives three hours. */
export const MAX_LIFETIME_SEC = 3 * 3600
/** Clock skew tolerated when judging an entry live. */
const SKEW_SEC = 300

const MAGIC = new TextEncoder().encode('peerd-share-hs\x01')
const CONTEXT = new TextEncoder().encode('peerd-share-hs-v1\0')
const ENTRY_BYTES = 32 + 8 + 64
/** Largest valid record. */
export const MAX_RECORD_BYTES = MAGIC.length + 1 + MAX_ENTRIES * ENTRY_BYTES
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A share record that is malformed, forged or out of date. */
export class ShareRecordError extends PeerdError {
  static override name = 'ShareRecordError'
}

/** One service that serves the root, until `expiresAt` (unix seconds). */
export interface ShareRecordEntry {
  /** The service's Ed25519 public key (its onion address encodes it). */
  publicKey: Uint8Array
  expiresAt: number
  signature: Uint8Array
}

/** The DHT key of `root`'s share record on `network`. */
export function shareRecordKey (network: string, root: CID): Uint8Array {
  const prefix = new TextEncoder().encode(`/${SHARE_HS_NAMESPACE}/${network}/`)
  const out = new Uint8Array(prefix.length + root.multihash.bytes.length)
  out.set(prefix)
  out.set(root.multihash.bytes, prefix.length)
  return out
}

function message (key: Uint8Array, publicKey: Uint8Array, expiresAt: number): Buffer {
  const t = Buffer.alloc(8)
  t.writeBigUInt64BE(BigInt(expiresAt))
  return Buffer.concat([CONTEXT, key, publicKey, t])
}

/** An entry for the service whose Ed25519 seed is `seed`, signed for `key`. */
export function signShareEntry (key: Uint8Array, seed: Uint8Array, expiresAt: number): ShareRecordEntry {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32))
  return { publicKey, expiresAt, signature: new Uint8Array(sign(null, message(key, publicKey, expiresAt), privateKey)) }
}

/** Whether `entry`'s signature is its key's, for `key`. */
export function verifyShareEntry (key: Uint8Array, entry: ShareRecordEntry): boolean {
  try {
    const pub = createPublicKey({ key: Buffer.concat([SPKI_ED25519, entry.publicKey]), format: 'der', type: 'spki' })
    return verify(null, message(key, entry.publicKey, entry.expiresAt), pub, entry.signature)
  } catch {
    return false
  }
}

/** Encodes a record (at most {@link MAX_ENTRIES} entries). */
export function encodeShareRecord (entries: ShareRecordEntry[]): Uint8Array {
  if (entries.length < 1 || entries.length > MAX_ENTRIES) throw new RangeError(`a share record holds 1 to ${MAX_ENTRIES} entries`)
  const out = new Uint8Array(MAGIC.length + 1 + entries.length * ENTRY_BYTES)
  out.set(MAGIC)
  out[MAGIC.length] = entries.length
  const view = new DataView(out.buffer)
  entries.forEach((e, i) => {
    const at = MAGIC.length + 1 + i * ENTRY_BYTES
    out.set(e.publicKey, at)
    view.setBigUint64(at + 32, BigInt(e.expiresAt))
    out.set(e.signature, at + 40)
  })
  return out
}

/** Decodes a record's shape (no signature check); throws {@link ShareRecordError}. */
export function decodeShareRecord (bytes: Uint8Array): ShareRecordEntry[] {
  if (bytes.length < MAGIC.length + 1 + ENTRY_BYTES || bytes.length > MAX_RECORD_BYTES) throw new ShareRecordError(`a share record of ${bytes.length} bytes`)
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new ShareRecordError('not a share record')
  const n = bytes[MAGIC.length] as number
  if (n < 1 || n > MAX_ENTRIES || bytes.length !== MAGIC.length + 1 + n * ENTRY_BYTES) throw new ShareRecordError(`a share record's count ${n} does not match its ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: ShareRecordEntry[] = []
  for (let i = 0; i < n; i++) {
    const at = MAGIC.length + 1 + i * ENTRY_BYTES
    const expiresAt = view.getBigUint64(at + 32)
    if (expiresAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new ShareRecordError('an entry expires past any date')
    entries.push({ publicKey: bytes.slice(at, at + 32), expiresAt: Number(expiresAt), signature: bytes.slice(at + 40, at + ENTRY_BYTES) })
  }
  return entries
}

/** The live, correctly signed entries of `bytes` stored under `key` (throws unless the record is valid at `nowSec`). */
export function liveShareEntries (key: Uint8Array, bytes: Uint8Array, nowSec: number): ShareRecordEntry[] {
  const entries = decodeShareRecord(bytes)
  const keys = new Set<string>()
  for (const e of entries) {
    const id = Buffer.from(e.publicKey).toString('hex')
    if (keys.has(id)) throw new ShareRecordError('a share record names one service twice')
    keys.add(id)
    if (e.expiresAt > nowSec + MAX_LIFETIME_SEC + SKEW_SEC) throw new ShareRecordError('an entry expires too far ahead')
    if (!verifyShareEntry(key, e)) throw new ShareRecordError('an entry is not signed by its service for this key')
  }
  const live = entries.filter(e => e.expiresAt > nowSec - SKEW_SEC)
  if (live.length === 0) throw new ShareRecordError('every entry of the share record expired')
  return live
}

/** A DHT validator for share records of `network` (keys of other networks are refused). */
export function shareRecordValidator (network: string, now: () => number = Date.now): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  const prefix = new TextEncoder().encode(`/${SHARE_HS_NAMESPACE}/${network}/`)
  return async (key, value) => {
    if (key.length <= prefix.length || key.length > prefix.length + 80 || !prefix.every((b, i) => key[i] === b)) throw new ShareRecordError('a share record under a key of another network')
    liveShareEntries(key, value, Math.floor(now() / 1000))
  }
}

/** A DHT selector for share records: the most live entries, then the latest expiry (an invalid record never wins). */
export function shareRecordSelector (key: Uint8Array, records: Uint8Array[]): number {
  const nowSec = Math.floor(Date.now() / 1000)
  let best = 0
  let bestScore = [-1, -1]
  records.forEach((r, i) => {
    let score = [-1, -1]
    try {
      const live = liveShareEntries(key, r, nowSec)
      score = [live.length, Math.max(...live.map(e => e.expiresAt))]
    } catch { /* never wins */ }
    if (score[0] as number > (bestScore[0] as number) || (score[0] === bestScore[0] && (score[1] as number) > (bestScore[1] as number))) { best = i; bestScore = score }
  })
  return best
}

/**
 * The record to publish: `own` first, then the other live entries of `current` (if any and valid),
 * latest expiry first, to at most {@link MAX_ENTRIES}.
 */
export function mergeShareRecord (key: Uint8Array, current: Uint8Array | undefined, own: ShareRecordEntry, nowSec: number): Uint8Array {
  let others: ShareRecordEntry[] = []
  if (current != null) {
    try { others = liveShareEntries(key, current, nowSec) } catch { /* a bad record is replaced */ }
  }
  const ownKey = Buffer.from(own.publicKey).toString('hex')
  others = others.filter(e => Buffer.from(e.publicKey).toString('hex') !== ownKey).sort((a, b) => b.expiresAt - a.expiresAt)
  return encodeShareRecord([own, ...others].slice(0, MAX_ENTRIES))
}
