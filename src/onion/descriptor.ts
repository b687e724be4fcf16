/**
 * Relay descriptors (issue 16, "Finding relays without authorities"): what a relay tells the
 * network about itself — its current ntor onion key, declared bandwidth, exit policy, declared
 * family and addresses — signed with its libp2p peer key, so anyone can check it came from the
 * relay whatever peer passed it on. Tor's authorities vouch for descriptors (dir-spec "Router
 * descriptor format"); here only the relay's own signature and the freshness rules stand.
 *
 * The codec is strict and deterministic: one encoding per descriptor, every length and list
 * bounded, the whole at most {@link MAX_DESCRIPTOR_BYTES} checked before anything is decoded,
 * no trailing bytes. All integers are big-endian.
 *
 *     u8 version (1) | u8 len, network | u8 len, public key (libp2p protobuf)
 *     | onion key (32) | u64 published ms | u64 expires ms | u32 bandwidth B/s | u8 flags (bit 0: exit)
 *     | u8 count, { u8 len, exit rule }… | u8 count, { u8 len, family peer id }…
 *     | u8 count, { u8 len, multiaddr }… | u8 len, signature
 *
 * The signature covers `"peerd-onion-descriptor-v1\0" | network | "\0" | everything before the
 * signature's length`, so a descriptor of one network never verifies on another and the
 * signature is of no use to any other peerd message.
 *
 * ```ts
 * const bytes = await signDescriptor({ network: 'main', onionKey, bandwidth: 1_000_000, addresses: ['/ip4/198.51.100.7/tcp/9470'] }, privateKey)
 * const desc = await verifyDescriptor(bytes, { network: 'main' }) // typed DescriptorError unless sound and fresh
 * ```
 * @module
 */
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey, PublicKey } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { canonicalIp } from '../net/addresses.ts'
import {
  DescriptorNetworkError, DescriptorTimeError, DescriptorTooLargeError, ExpiredDescriptorError, ForgedDescriptorError, MalformedDescriptorError
} from './directory-errors.ts'
import { MAX_EXIT_POLICY_RULE_LEN, isPrivateAddress, parseExitPolicy } from './exit-policy.ts'
import { KEY_BYTES } from './ntor.ts'

/** Descriptor format version. */
export const DESCRIPTOR_VERSION = 1
/** Largest encoded descriptor, checked before decoding. */
export const MAX_DESCRIPTOR_BYTES = 4096
/** Most declared family members (tor has no cap; an unbounded list is a memory lever). */
export const MAX_FAMILY = 16
/** Most addresses. */
export const MAX_ADDRESSES = 8
/** Longest address (multiaddr text, bytes). */
export const MAX_ADDRESS_BYTES = 128
/** Most exit policy rules. */
export const MAX_EXIT_RULES = 64
/** Longest exit policy rule (bytes). */
export const MAX_EXIT_RULE_BYTES = MAX_EXIT_POLICY_RULE_LEN
/** Longest network name. */
export const MAX_NETWORK_BYTES = 32
/** Longest lifetime of a descriptor (tor's descriptors are republished within 18 h, kept ≤ 5 days; a relay here must refresh daily). */
export const MAX_LIFETIME_MS = 24 * 3600_000
/** How far in the future `published` may be (clock skew allowed). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** Default lifetime of a new descriptor: a relay republishes hourly, so three missed republications still leave it listed. */
export const DEFAULT_LIFETIME_MS = 3 * 3600_000

const DOMAIN = 'peerd-onion-descriptor-v1\0'
const MAX_PUBLIC_KEY_BYTES = 64
const MAX_SIGNATURE_BYTES = 128
const MAX_PEER_ID_CHARS = 64
const MAX_U32 = 0xffffffff
const FLAG_EXIT = 0x01
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** What a relay declares: the signed fields of a descriptor. */
export interface DescriptorFields {
  network: string
  /** The current X25519 onion key (32 bytes). */
  onionKey: Uint8Array
  /** Unix ms; defaults to now. */
  published?: number
  /** Unix ms; defaults to `published + DEFAULT_LIFETIME_MS`. */
  expires?: number
  /** Declared bandwidth, bytes a second (unverified: path selection caps it). */
  bandwidth: number
  /** Whether the relay exits to the Internet. */
  exit?: boolean
  /** Exit policy rules (`parseExitPolicy` syntax), first match wins. */
  exitPolicy?: string[]
  /** Peer ids of relays the operator runs too. */
  family?: string[]
  /** Multiaddrs the relay listens on (text). */
  addresses?: string[]
}

/** A decoded descriptor. `bytes` is its encoding, signature included. */
export interface RelayDescriptor {
  readonly version: number
  readonly network: string
  readonly peerId: PeerId
  readonly publicKey: PublicKey
  readonly onionKey: Uint8Array
  readonly published: number
  readonly expires: number
  readonly bandwidth: number
  readonly exit: boolean
  readonly exitPolicy: readonly string[]
  readonly family: readonly string[]
  readonly addresses: readonly string[]
  readonly bytes: Uint8Array
}

/** Options of {@link verifyDescriptor}. */
export interface VerifyOptions {
  /** The network this node is on. */
  network: string
  /** Unix ms; defaults to now. */
  now?: number
}

class Writer {
  private readonly parts: Uint8Array[] = []
  u8 (n: number): void { this.parts.push(Uint8Array.of(n)) }
  u32 (n: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); this.parts.push(b) }
  u64 (n: number): void { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); this.parts.push(b) }
  raw (b: Uint8Array): void { this.parts.push(b) }
  bytes8 (b: Uint8Array): void { this.u8(b.length); this.raw(b) }
  done (): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of this.parts) { out.set(p, at); at += p.length }
    return out
  }
}

class Reader {
  at = 0
  private readonly b: Uint8Array
  private readonly view: DataView
  constructor (b: Uint8Array) { this.b = b; this.view = new DataView(b.buffer, b.byteOffset, b.byteLength) }
  private need (n: number, what: string): void {
    if (this.at + n > this.b.length) throw new MalformedDescriptorError(`descriptor ends inside ${what}`)
  }

  u8 (what: string): number { this.need(1, what); return this.b[this.at++] as number }
  u32 (what: string): number { this.need(4, what); const v = this.view.getUint32(this.at); this.at += 4; return v }
  u64 (what: string): number {
    this.need(8, what)
    const v = this.view.getBigUint64(this.at)
    this.at += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedDescriptorError(`${what} out of range`)
    return Number(v)
  }

  raw (n: number, what: string): Uint8Array { this.need(n, what); const v = this.b.slice(this.at, this.at + n); this.at += n; return v }
  bytes8 (max: number, what: string): Uint8Array {
    const len = this.u8(what)
    if (len > max) throw new MalformedDescriptorError(`${what} of ${len} bytes, over ${max}`)
    return this.raw(len, what)
  }

  text (max: number, what: string): string {
    const b = this.bytes8(max, what)
    try { return dec.decode(b) } catch (err) { throw new MalformedDescriptorError(`${what} is not UTF-8`, { cause: err }) }
  }

  list (max: number, itemMax: number, what: string): string[] {
    const count = this.u8(`${what} count`)
    if (count > max) throw new MalformedDescriptorError(`${count} ${what} entries, over ${max}`)
    const out: string[] = []
    for (let i = 0; i < count; i++) out.push(this.text(itemMax, what))
    return out
  }
}

function checkText (s: string, max: number, what: string): Uint8Array {
  const b = enc.encode(s)
  if (b.length > max) throw new MalformedDescriptorError(`${what} ${JSON.stringify(s.slice(0, 40))} is over ${max} bytes`)
  return b
}

function checkList (list: readonly string[], max: number, itemMax: number, what: string, check: (s: string) => void): Uint8Array[] {
  if (list.length > max) throw new MalformedDescriptorError(`${list.length} ${what} entries, over ${max}`)
  return list.map(s => { check(s); return checkText(s, itemMax, what) })
}

/** Multiaddrs must be in canonical text, so one descriptor has one encoding. */
function checkAddress (s: string): void {
  let canonical: string | undefined
  try { canonical = multiaddr(s).toString() } catch { canonical = undefined }
  if (canonical !== s) throw new MalformedDescriptorError(`address ${JSON.stringify(s.slice(0, 40))} is not a canonical multiaddr`)
}

function canonicalAddress (s: string): string {
  try {
    return multiaddr(s).toString()
  } catch (err) {
    throw new MalformedDescriptorError(`address ${JSON.stringify(String(s).slice(0, 40))} is not a multiaddr`, { cause: err })
  }
}

function checkFamily (s: string): void {
  let canonical: string | undefined
  try { canonical = peerIdFromString(s).toString() } catch { canonical = undefined }
  if (canonical !== s) throw new MalformedDescriptorError(`family member ${JSON.stringify(s.slice(0, 40))} is not a peer id`)
}

function checkRule (s: string): void {
  // one rule per entry: a comma or newline would make one entry several rules
  if (s.length === 0 || s.trim() !== s || /[,\n]/.test(s)) throw new MalformedDescriptorError(`exit rule ${JSON.stringify(s.slice(0, 40))} is empty, padded or several rules`)
}

function checkPolicy (rules: readonly string[]): void {
  try {
    parseExitPolicy(rules)
  } catch (err) {
    throw new MalformedDescriptorError(`exit policy does not parse: ${(err as Error).message}`, { cause: err })
  }
}

/** The bytes the signature covers, from the unsigned body. */
function signedBytes (network: string, body: Uint8Array): Uint8Array {
  const head = enc.encode(`${DOMAIN}${network}\0`)
  const out = new Uint8Array(head.length + body.length)
  out.set(head)
  out.set(body, head.length)
  return out
}

function encodeBody (f: Required<DescriptorFields>, publicKey: Uint8Array): Uint8Array {
  const w = new Writer()
  w.u8(DESCRIPTOR_VERSION)
  w.bytes8(checkText(f.network, MAX_NETWORK_BYTES, 'network'))
  if (publicKey.length > MAX_PUBLIC_KEY_BYTES) throw new MalformedDescriptorError('public key too long')
  w.bytes8(publicKey)
  if (!(f.onionKey instanceof Uint8Array) || f.onionKey.length !== KEY_BYTES) throw new MalformedDescriptorError(`onion key must be ${KEY_BYTES} bytes`)
  w.raw(f.onionKey)
  for (const [what, v] of [['published', f.published], ['expires', f.expires]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new MalformedDescriptorError(`${what} must be a non-negative integer, got ${v}`)
    w.u64(v)
  }
  if (!Number.isSafeInteger(f.bandwidth) || f.bandwidth < 0 || f.bandwidth > MAX_U32) throw new MalformedDescriptorError(`bandwidth must be 0…${MAX_U32}, got ${f.bandwidth}`)
  w.u32(f.bandwidth)
  w.u8(f.exit ? FLAG_EXIT : 0)
  for (const [list, max, itemMax, what, check] of [
    [f.exitPolicy, MAX_EXIT_RULES, MAX_EXIT_RULE_BYTES, 'exit rule', checkRule],
    [f.family, MAX_FAMILY, MAX_PEER_ID_CHARS, 'family', checkFamily],
    [f.addresses, MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'address', checkAddress]
  ] as const) {
    const items = checkList(list, max, itemMax, what, check)
    if (what === 'exit rule') checkPolicy(list)
    w.u8(items.length)
    for (const item of items) w.bytes8(item)
  }
  return w.done()
}

/**
 * A signed descriptor of `fields` for the peer whose key is `privateKey`.
 *
 * @throws {MalformedDescriptorError} when a field is out of its bounds
 */
export async function signDescriptor (fields: DescriptorFields, privateKey: PrivateKey): Promise<Uint8Array> {
  const published = fields.published ?? Date.now()
  const full: Required<DescriptorFields> = {
    network: fields.network,
    onionKey: fields.onionKey,
    published,
    expires: fields.expires ?? published + DEFAULT_LIFETIME_MS,
    bandwidth: fields.bandwidth,
    exit: fields.exit ?? false,
    exitPolicy: fields.exitPolicy ?? [],
    family: fields.family ?? [],
    // canonical text, so `/ip6/2001:db8:0::1` and `/ip6/2001:db8::1` are one address
    addresses: (fields.addresses ?? []).map(canonicalAddress)
  }
  const body = encodeBody(full, publicKeyToProtobuf(privateKey.publicKey))
  const signature = await privateKey.sign(signedBytes(full.network, body))
  if (signature.length > MAX_SIGNATURE_BYTES) throw new MalformedDescriptorError('signature too long')
  const out = new Uint8Array(body.length + 1 + signature.length)
  out.set(body)
  out[body.length] = signature.length
  out.set(signature, body.length + 1)
  if (out.length > MAX_DESCRIPTOR_BYTES) throw new DescriptorTooLargeError(`descriptor of ${out.length} bytes, over ${MAX_DESCRIPTOR_BYTES}`)
  return out
}

/**
 * Decodes a descriptor's structure without checking its signature or times (the directory's
 * load and tests use it; everything from the network goes through {@link verifyDescriptor}).
 *
 * @throws {DescriptorTooLargeError} over {@link MAX_DESCRIPTOR_BYTES}
 * @throws {MalformedDescriptorError} on any codec violation
 */
export function decodeDescriptor (bytes: Uint8Array): RelayDescriptor & { readonly signature: Uint8Array, readonly bodyLength: number } {
  if (!(bytes instanceof Uint8Array)) throw new MalformedDescriptorError('descriptor is not bytes')
  if (bytes.length > MAX_DESCRIPTOR_BYTES) throw new DescriptorTooLargeError(`descriptor of ${bytes.length} bytes, over ${MAX_DESCRIPTOR_BYTES}`)
  const r = new Reader(bytes)
  const version = r.u8('version')
  if (version !== DESCRIPTOR_VERSION) throw new MalformedDescriptorError(`descriptor version ${version}, expected ${DESCRIPTOR_VERSION}`)
  const network = r.text(MAX_NETWORK_BYTES, 'network')
  const keyBytes = r.bytes8(MAX_PUBLIC_KEY_BYTES, 'public key')
  let publicKey: PublicKey
  let peerId: PeerId
  try {
    publicKey = publicKeyFromProtobuf(keyBytes)
    if (publicKey.type !== 'Ed25519' && publicKey.type !== 'secp256k1') throw new Error(`${publicKey.type} keys are not accepted`)
    // canonical protobuf only, so a key has one encoding
    if (!bytesEqual(publicKeyToProtobuf(publicKey), keyBytes)) throw new Error('non-canonical key encoding')
    peerId = peerIdFromPublicKey(publicKey)
  } catch (err) {
    throw new MalformedDescriptorError(`bad public key: ${(err as Error).message}`, { cause: err })
  }
  const onionKey = r.raw(KEY_BYTES, 'onion key')
  const published = r.u64('published')
  const expires = r.u64('expires')
  const bandwidth = r.u32('bandwidth')
  const flags = r.u8('flags')
  if ((flags & ~FLAG_EXIT) !== 0) throw new MalformedDescriptorError(`unknown flags 0x${flags.toString(16)}`)
  const exitPolicy = r.list(MAX_EXIT_RULES, MAX_EXIT_RULE_BYTES, 'exit rule')
  exitPolicy.forEach(checkRule)
  checkPolicy(exitPolicy)
  const family = r.list(MAX_FAMILY, MAX_PEER_ID_CHARS, 'family')
  family.forEach(checkFamily)
  const addresses = r.list(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'address')
  addresses.forEach(checkAddress)
  const bodyLength = r.at
  const signature = r.bytes8(MAX_SIGNATURE_BYTES, 'signature')
  if (r.at !== bytes.length) throw new MalformedDescriptorError(`${bytes.length - r.at} trailing bytes`)
  return {
    version, network, peerId, publicKey, onionKey, published, expires, bandwidth, exit: (flags & FLAG_EXIT) !== 0,
    exitPolicy, family, addresses, bytes: Uint8Array.from(bytes), signature, bodyLength
  }
}

/**
 * Checks that `desc` is fresh at `now`: published at most {@link MAX_CLOCK_SKEW_MS} ahead,
 * living at most {@link MAX_LIFETIME_MS}, not expired.
 */
export function checkFreshness (desc: Pick<RelayDescriptor, 'published' | 'expires' | 'peerId'>, now = Date.now()): void {
  if (desc.published > now + MAX_CLOCK_SKEW_MS) throw new DescriptorTimeError(`descriptor of ${desc.peerId.toString()} is published ${Math.round((desc.published - now) / 1000)} s in the future`)
  if (desc.expires <= desc.published || desc.expires - desc.published > MAX_LIFETIME_MS) throw new DescriptorTimeError(`descriptor of ${desc.peerId.toString()} has a lifetime of ${desc.expires - desc.published} ms (1…${MAX_LIFETIME_MS})`)
  if (desc.expires <= now) throw new ExpiredDescriptorError(`descriptor of ${desc.peerId.toString()} expired ${Math.round((now - desc.expires) / 1000)} s ago`)
}

/**
 * Decodes `bytes` and checks the signature, the network and freshness.
 *
 * @throws {DescriptorError} subclasses: too large, malformed, forged, wrong network, expired, bad times
 */
export async function verifyDescriptor (bytes: Uint8Array, options: VerifyOptions): Promise<RelayDescriptor> {
  const d = decodeDescriptor(bytes)
  let ok: boolean
  try {
    ok = await d.publicKey.verify(signedBytes(d.network, bytes.subarray(0, d.bodyLength)), d.signature)
  } catch {
    ok = false
  }
  if (!ok) throw new ForgedDescriptorError(`descriptor claiming ${d.peerId.toString()} has a signature that does not verify`)
  if (d.network !== options.network) throw new DescriptorNetworkError(`descriptor of ${d.peerId.toString()} is for network ${JSON.stringify(d.network)}, not ${options.network}`)
  checkFreshness(d, options.now ?? Date.now())
  const { signature: _s, bodyLength: _b, ...desc } = d
  return desc
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The public IP addresses (canonical text) of a descriptor's `/ip4` and `/ip6` addresses, each
 * once. Loopback, private and link-local addresses are left out: every relay may list 127.0.0.1
 * or a 192.168/16 LAN address, which says nothing about who runs it, and counting them would
 * make unrelated relays look like one subnet.
 */
export function descriptorIps (desc: Pick<RelayDescriptor, 'addresses'>): string[] {
  const ips = new Set<string>()
  for (const a of desc.addresses) {
    try {
      for (const c of multiaddr(a).getComponents()) {
        if ((c.name === 'ip4' || c.name === 'ip6') && c.value != null) {
          const ip = canonicalIp(c.value)
          if (ip != null && !isPrivateAddress(ip)) ips.add(ip)
        }
      }
    } catch { /* decoded descriptors hold canonical multiaddrs only */ }
  }
  return [...ips]
}
