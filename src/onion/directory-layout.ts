/**
 * The relay directory's LevelDB layout (bcoin's `layout.ts` style): key prefixes and value
 * codecs of the relay view and the guard set, which share one database.
 *
 *     0x00 'v'          → u32 format version
 *     0x00 'n'          → network name (UTF-8)
 *     0x01 | multihash  → u64 first seen ms | descriptor bytes (one relay)
 *     0x02              → the guard set (guards.ts's codec)
 */

/** Format version of the directory database. */
export const DIRECTORY_DB_VERSION = 1

/** Key of the format version. */
export const VERSION_KEY = Uint8Array.of(0x00, 0x76)
/** Key of the network name. */
export const NETWORK_KEY = Uint8Array.of(0x00, 0x6e)
/** Key of the guard set. */
export const GUARDS_KEY = Uint8Array.of(0x02)
/** Prefix of relay records. */
export const RELAY_PREFIX = 0x01

/** The key of the relay whose peer id's multihash is `multihash`. */
export function relayKey (multihash: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + multihash.length)
  k[0] = RELAY_PREFIX
  k.set(multihash, 1)
  return k
}

/** The range of every relay record. */
export const RELAY_RANGE = { gte: Uint8Array.of(RELAY_PREFIX), lt: Uint8Array.of(RELAY_PREFIX + 1) }

/** A relay record: first-seen time and the descriptor's bytes. */
export function encodeRelayRecord (firstSeen: number, descriptor: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + descriptor.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(firstSeen))
  out.set(descriptor, 8)
  return out
}

/** Splits a relay record; undefined when it is too short to be one. */
export function decodeRelayRecord (value: Uint8Array): { firstSeen: number, descriptor: Uint8Array } | undefined {
  if (value.length < 9) return undefined
  const firstSeen = Number(new DataView(value.buffer, value.byteOffset, value.byteLength).getBigUint64(0))
  return { firstSeen, descriptor: value.slice(8) }
}

/** A u32 as 4 big-endian bytes. */
export function encodeU32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

/** 4 big-endian bytes as a u32 (undefined unless exactly 4 bytes). */
export function decodeU32 (b: Uint8Array): number | undefined {
  return b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : undefined
}
