/**
 * Onion-service addresses (issue 17), built as Tor's v3 `.onion` addresses are (rend-spec-v3
 * [ONIONADDRESS]) with peerd's own TLD and checksum string, so a peerd address is never taken for
 * a Tor one or the other way round:
 *
 *     address  = base32(PUBKEY | CHECKSUM | VERSION) + ".peerd"     (56 characters, lowercase)
 *     CHECKSUM = SHA3-256(".peerd checksum" | PUBKEY | VERSION)[:2]
 *     VERSION  = 0x03
 *
 * PUBKEY is the service's Ed25519 identity key; the address is all a client needs to find,
 * authenticate and reach the service. Decoding accepts either case, a trailing dot and subdomain
 * labels (`www.<address>.peerd`, as Tor accepts them for `.onion`), and refuses a key that is not
 * a point of Ed25519's prime-order subgroup: key blinding of such a key would be ambiguous.
 * {@link TOR_ADDRESS} exists so the construction is checked against a real Tor address.
 *
 * ```ts
 * const address = encodeOnionAddress(identityPublicKey)   // 'xxxx…xxxx.peerd'
 * const key = decodeOnionAddress('WWW.XXXX…XXXX.PEERD.')  // the 32-byte key, or OnionAddressError
 * ```
 * @module
 */
import { createHash } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base32 } from 'multiformats/bases/base32'
import { OnionAddressError } from './hs-errors.ts'

/** The TLD of peerd onion addresses. */
export const ONION_TLD = '.peerd'
/** Address version (as Tor's v3). */
export const ONION_ADDRESS_VERSION = 3
/** Base32 characters of an address without its TLD. */
export const ONION_ADDRESS_CHARS = 56
/** Bytes of an identity key. */
export const IDENTITY_KEY_BYTES = 32
const CHECKSUM_BYTES = 2
const MAX_HOST_CHARS = 253

/** What tells one address family from another: its TLD and the string its checksum starts with. */
export interface OnionAddressFlavour {
  readonly tld: string
  readonly checksumString: string
}

/** peerd's addresses: `.peerd`, checksum over ".peerd checksum". */
export const PEERD_ADDRESS: OnionAddressFlavour = Object.freeze({ tld: ONION_TLD, checksumString: '.peerd checksum' })
/** Tor's v3 addresses (rend-spec-v3), for Tor's test vectors only. */
export const TOR_ADDRESS: OnionAddressFlavour = Object.freeze({ tld: '.onion', checksumString: '.onion checksum' })

function checksum (pub: Uint8Array, version: number, flavour: OnionAddressFlavour): Uint8Array {
  const h = createHash('sha3-256').update(flavour.checksumString).update(pub).update(Uint8Array.of(version)).digest()
  return new Uint8Array(h.subarray(0, CHECKSUM_BYTES))
}

/** Whether `pub` is an Ed25519 point of the prime-order subgroup other than the identity. */
function isIdentityKey (pub: Uint8Array): boolean {
  try {
    const p = ed25519.Point.fromBytes(pub)
    return !p.is0() && p.isTorsionFree()
  } catch {
    return false
  }
}

/**
 * The address of the service whose Ed25519 identity key is `pub`.
 *
 * @throws {OnionAddressError} when `pub` is not a 32-byte Ed25519 key of the prime-order subgroup
 */
export function encodeOnionAddress (pub: Uint8Array, flavour: OnionAddressFlavour = PEERD_ADDRESS): string {
  if (!(pub instanceof Uint8Array) || pub.length !== IDENTITY_KEY_BYTES) throw new OnionAddressError(`an identity key is ${IDENTITY_KEY_BYTES} bytes, got ${pub instanceof Uint8Array ? pub.length : typeof pub}`)
  if (!isIdentityKey(pub)) throw new OnionAddressError('not an Ed25519 identity key (not a point of the prime-order subgroup)')
  const raw = new Uint8Array(IDENTITY_KEY_BYTES + CHECKSUM_BYTES + 1)
  raw.set(pub)
  raw.set(checksum(pub, ONION_ADDRESS_VERSION, flavour), IDENTITY_KEY_BYTES)
  raw[raw.length - 1] = ONION_ADDRESS_VERSION
  return base32.baseEncode(raw) + flavour.tld
}

/**
 * The 32-byte identity key an address encodes. Accepts upper and lower case, one trailing dot
 * and subdomain labels before the address (`www.<address>.peerd`).
 *
 * @throws {OnionAddressError} on another TLD, a wrong length or character, a bad checksum or
 *   version, or a key that is not an Ed25519 point of the prime-order subgroup
 */
export function decodeOnionAddress (addr: string, flavour: OnionAddressFlavour = PEERD_ADDRESS): Uint8Array {
  if (typeof addr !== 'string') throw new OnionAddressError('an onion address is a string')
  if (addr.length > MAX_HOST_CHARS + 1) throw new OnionAddressError(`a host name of ${addr.length} characters`)
  let host = addr.toLowerCase()
  if (host.endsWith('.')) host = host.slice(0, -1)
  if (!host.endsWith(flavour.tld)) throw new OnionAddressError(`not a ${flavour.tld} address`)
  host = host.slice(0, -flavour.tld.length)
  const label = host.slice(host.lastIndexOf('.') + 1)
  if (label.length !== ONION_ADDRESS_CHARS) throw new OnionAddressError(`an onion address has ${ONION_ADDRESS_CHARS} base32 characters before ${flavour.tld}, got ${label.length}`)
  let raw: Uint8Array
  try {
    raw = base32.baseDecode(label)
  } catch (err) {
    throw new OnionAddressError('an onion address is base32 (a-z, 2-7)', { cause: err })
  }
  const pub = raw.slice(0, IDENTITY_KEY_BYTES)
  const version = raw[raw.length - 1]
  if (version !== ONION_ADDRESS_VERSION) throw new OnionAddressError(`onion address version ${version}, only ${ONION_ADDRESS_VERSION} is known`)
  const sum = checksum(pub, version, flavour)
  if (sum[0] !== raw[IDENTITY_KEY_BYTES] || sum[1] !== raw[IDENTITY_KEY_BYTES + 1]) throw new OnionAddressError('onion address checksum does not match (a typing error?)')
  if (!isIdentityKey(pub)) throw new OnionAddressError('onion address does not encode an Ed25519 identity key')
  return pub
}

/** Whether `host` is a valid address of this flavour (what {@link decodeOnionAddress} accepts). */
export function isOnionAddress (host: string, flavour: OnionAddressFlavour = PEERD_ADDRESS): boolean {
  try {
    decodeOnionAddress(host, flavour)
    return true
  } catch {
    return false
  }
}

/**
 * Whether `host` ends in the TLD (either case, an optional trailing dot), valid or not: such a
 * name must go to the onion-service client and never to an exit or a resolver, where it would
 * leak which service the user wanted.
 */
export function isOnionHost (host: string, flavour: OnionAddressFlavour = PEERD_ADDRESS): boolean {
  if (typeof host !== 'string') return false
  const h = host.toLowerCase()
  return h.endsWith(flavour.tld) || h.endsWith(flavour.tld + '.')
}
