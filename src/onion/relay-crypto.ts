/**
 * Layered relay-cell encryption, Tor's "tor1" relay crypto (tor-spec "Relay cells", "Routing
 * relay cells") with the stronger primitives of Tor's v3 onion-service circuits: per hop and
 * direction, an AES-256-CTR stream (IV zero, the counter running across cells, so both ends
 * must process the same cells in the same order) and a running SHA-256 digest seeded with a
 * secret. Native `node:crypto` only.
 *
 * Keys: the handshake's key output, 128 bytes of HKDF-SHA256 expansion (`ntor.ts`, whose
 * `PEERD_NTOR.keyLen` is {@link RELAY_KEY_MATERIAL_LEN}), split by {@link splitRelayKeys} as
 * Df (32) | Db (32) | Kf (32) | Kb (32): the forward and backward digest seeds, the forward and
 * backward AES-256 keys (Tor splits its ntor output the same way, with SHA-1 and AES-128 sizes).
 *
 * Sending (the client to hop i, or hop i back to the client): `recognized` and the digest field
 * zero, the running digest of that hop and direction absorbs the whole 509-byte body, and its
 * first 4 bytes go into the digest field. Then the client encrypts with Kf of hop i, i-1, …, 1
 * (each hop removes its layer); a hop encrypts with its Kb and every hop before it adds its own.
 * Receiving: after removing its layer a hop checks `recognized` = 0 and, on a copy of its running
 * digest, the 4 bytes; if both match the cell is for it and the copy becomes its running digest,
 * else it passes the cell on untouched. The client peels Kb of hop 1, 2, … until a hop recognizes
 * the cell.
 *
 * SHA-256, not SHA3-256: OpenSSL computes it faster (with the CPU's SHA extensions where
 * present), it is the handshake's hash already, and its weakness to length extension does not
 * matter here: the running digest starts from a secret seed and only 4 bytes of it are ever
 * sent, encrypted.
 *
 * What tor1 detects: any change to a cell between its sender and its recipient (a relay or the
 * link flipping a bit in any of the 509 bytes) fails the recipient's check, which raises
 * {@link CellIntegrityError}; the caller tears the circuit down. What it does not: (1) the 4-byte
 * digest lets a forgery through with chance 2^-32 per cell; (2) relays between sender and
 * recipient check nothing, and AES-CTR is malleable, so a tagging attack works: a guard XORs a
 * pattern into a cell and a colluding exit XORs it back before the check, confirming they share
 * the circuit, and a circuit that fails tells the guard the exit is not theirs. Tor's Counter
 * Galois Onion (proposal 359), a wide-block tweakable cipher where any change garbles the whole
 * cell at every later hop, is the fix; peerd has the same limit as tor until it adopts that.
 *
 * ```ts
 * const layers = new OnionLayers()
 * layers.addHop(splitRelayKeys(ntorClientComplete(state, reply)))   // after each CREATED2 / EXTENDED2
 * const wire = layers.encryptForward(encodeRelayBody(msg), 2)
 * const { hop, body } = layers.decryptBackward(wireBack)
 * ```
 * @module
 */
import { createCipheriv, createHash } from 'node:crypto'
import type { Cipheriv, Hash } from 'node:crypto'
import { InvalidArgumentError } from '../errors.ts'
import { CELL_BODY_LEN, RELAY_DIGEST_AT, RELAY_RECOGNIZED_AT } from './cell.ts'
import { CellIntegrityError } from './errors.ts'

/** Bytes of each key and digest seed. */
export const RELAY_KEY_LEN = 32
/** Bytes of key material for one hop: Df | Db | Kf | Kb. */
export const RELAY_KEY_MATERIAL_LEN = 4 * RELAY_KEY_LEN
const DIGEST_LEN = 4
const ZERO_IV = new Uint8Array(16)
const ZERO_DIGEST = new Uint8Array(DIGEST_LEN)

/** One hop's keys, both directions. */
export interface RelayKeys {
  /** Forward digest seed. */
  df: Uint8Array
  /** Backward digest seed. */
  db: Uint8Array
  /** Forward cipher key (AES-256). */
  kf: Uint8Array
  /** Backward cipher key (AES-256). */
  kb: Uint8Array
}

/** Splits {@link RELAY_KEY_MATERIAL_LEN} bytes of key material as Df | Db | Kf | Kb. */
export function splitRelayKeys (material: Uint8Array): RelayKeys {
  if (material.length !== RELAY_KEY_MATERIAL_LEN) throw new InvalidArgumentError(`relay key material of ${material.length} bytes, not ${RELAY_KEY_MATERIAL_LEN}`)
  const part = (i: number): Uint8Array => material.slice(i * RELAY_KEY_LEN, (i + 1) * RELAY_KEY_LEN)
  return { df: part(0), db: part(1), kf: part(2), kb: part(3) }
}

function checkBody (body: Uint8Array): void {
  if (body.length !== CELL_BODY_LEN) throw new InvalidArgumentError(`relay body of ${body.length} bytes, not ${CELL_BODY_LEN}`)
}

/** One direction of one hop: its cipher stream and running digest. */
class Direction {
  private readonly cipher: Cipheriv
  private digest: Hash
  /** The full running digest after the last cell sent or recognized (proposal 289's SENDME tag). */
  lastDigest: Uint8Array = new Uint8Array(0)

  constructor (key: Uint8Array, seed: Uint8Array) {
    this.cipher = createCipheriv('aes-256-ctr', key, ZERO_IV)
    this.digest = createHash('sha256').update(seed)
  }

  /** Adds or removes this layer (CTR: the same operation), advancing the counter. */
  crypt (body: Uint8Array): Uint8Array {
    const out = this.cipher.update(body)
    // a plain Uint8Array view, no copy: a Buffer's slice() would not copy what decoders slice out
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }

  /** Zeroes `recognized` and the digest field, absorbs the body, writes the digest; in place. */
  seal (body: Uint8Array): void {
    body[RELAY_RECOGNIZED_AT] = 0
    body[RELAY_RECOGNIZED_AT + 1] = 0
    body.set(ZERO_DIGEST, RELAY_DIGEST_AT)
    this.digest.update(body)
    this.lastDigest = this.digest.copy().digest()
    body.set(this.lastDigest.subarray(0, DIGEST_LEN), RELAY_DIGEST_AT)
  }

  /** Whether a decrypted body is for this hop; if so the running digest takes it in. */
  recognize (body: Uint8Array): boolean {
    if (body[RELAY_RECOGNIZED_AT] !== 0 || body[RELAY_RECOGNIZED_AT + 1] !== 0) return false
    // the digest is taken with its field zeroed: zeroed in place and put back, not a copy of the body per cell
    const c0 = body[RELAY_DIGEST_AT] as number
    const c1 = body[RELAY_DIGEST_AT + 1] as number
    const c2 = body[RELAY_DIGEST_AT + 2] as number
    const c3 = body[RELAY_DIGEST_AT + 3] as number
    body.set(ZERO_DIGEST, RELAY_DIGEST_AT)
    const tentative = this.digest.copy().update(body)
    body[RELAY_DIGEST_AT] = c0
    body[RELAY_DIGEST_AT + 1] = c1
    body[RELAY_DIGEST_AT + 2] = c2
    body[RELAY_DIGEST_AT + 3] = c3
    const full = tentative.copy().digest()
    if (full[0] !== c0 || full[1] !== c1 || full[2] !== c2 || full[3] !== c3) return false
    this.digest = tentative
    this.lastDigest = full
    return true
  }
}

/** A hop's crypto state at the client: both directions. */
interface ClientHop {
  forward: Direction
  backward: Direction
}

/** The client's layers of one circuit, one per hop, hop 0 the first (the guard). */
export class OnionLayers {
  private readonly hops: ClientHop[] = []

  /** Hops added so far. */
  get length (): number {
    return this.hops.length
  }

  /** Adds the next hop once its handshake completes. */
  addHop (keys: RelayKeys): void {
    this.hops.push({ forward: new Direction(keys.kf, keys.df), backward: new Direction(keys.kb, keys.db) })
  }

  /** The full digest of the last cell sent to `hop` (its SENDME tag). */
  lastForwardDigest (hop: number): Uint8Array {
    return this.hop(hop).forward.lastDigest
  }

  /** The full digest of the last cell `hop` sent that was recognized. */
  lastBackwardDigest (hop: number): Uint8Array {
    return this.hop(hop).backward.lastDigest
  }

  private hop (i: number): ClientHop {
    const h = this.hops[i]
    if (h == null) throw new InvalidArgumentError(`hop ${i} of a ${this.hops.length}-hop circuit`)
    return h
  }

  /**
   * Seals a plaintext relay body for `targetHop` and adds the layers of that hop and every hop
   * before it. Returns a new body; the argument's digest field is overwritten.
   */
  encryptForward (body: Uint8Array, targetHop: number): Uint8Array {
    checkBody(body)
    this.hop(targetHop).forward.seal(body)
    let out = body
    for (let i = targetHop; i >= 0; i--) out = this.hop(i).forward.crypt(out)
    return out
  }

  /**
   * Peels layers off a backward body until a hop recognizes it: that hop and the plaintext. A
   * body no hop recognizes was altered on the way: {@link CellIntegrityError} (the layers after
   * it are out of step; the circuit must be torn down).
   */
  decryptBackward (body: Uint8Array): { hop: number, body: Uint8Array } {
    checkBody(body)
    let out = body
    for (let i = 0; i < this.hops.length; i++) {
      const b = (this.hops[i] as ClientHop).backward
      out = b.crypt(out)
      if (b.recognize(out)) return { hop: i, body: out }
    }
    throw new CellIntegrityError('backward relay cell recognized by no hop')
  }
}

/** A relay's crypto state for one circuit it is a hop of. */
export class HopCrypto {
  private readonly forward: Direction
  private readonly backward: Direction

  constructor (keys: RelayKeys) {
    this.forward = new Direction(keys.kf, keys.df)
    this.backward = new Direction(keys.kb, keys.db)
  }

  /**
   * Removes this hop's layer from a forward body. `recognized`: the cell is for this hop (else it
   * goes on to the next hop as returned). With `lastHop` (no next hop) an unrecognized cell is
   * {@link CellIntegrityError}.
   */
  decryptForward (body: Uint8Array, opts: { lastHop?: boolean } = {}): { recognized: boolean, body: Uint8Array } {
    checkBody(body)
    const out = this.forward.crypt(body)
    const recognized = this.forward.recognize(out)
    if (!recognized && opts.lastHop === true) throw new CellIntegrityError('forward relay cell not recognized at the last hop')
    return { recognized, body: out }
  }

  /**
   * Removes this hop's layer from several forward bodies in order, in one cipher call (CTR: the
   * same output as one call per body): their results back to back, `CELL_BODY_LEN` bytes each.
   * Each must then go through {@link recognizeForward}, in order, as {@link decryptForward} does.
   */
  decryptForwardRun (bodies: Uint8Array[]): Uint8Array {
    let total = 0
    for (const b of bodies) { checkBody(b); total += b.length }
    return this.forward.crypt(bodies.length === 1 ? bodies[0] as Uint8Array : Buffer.concat(bodies, total))
  }

  /** Whether a body {@link decryptForwardRun} returned is for this hop (its running digest then takes it in). */
  recognizeForward (body: Uint8Array): boolean {
    return this.forward.recognize(body)
  }

  /** Seals a plaintext relay body this hop originates and adds its layer. */
  encryptBackward (body: Uint8Array): Uint8Array {
    checkBody(body)
    this.backward.seal(body)
    return this.backward.crypt(body)
  }

  /**
   * {@link relayBackward} for several bodies in order, in one cipher call (CTR: the same output
   * as one call per body): their results back to back, `CELL_BODY_LEN` bytes each.
   */
  relayBackwardRun (bodies: Uint8Array[]): Uint8Array {
    let total = 0
    for (const b of bodies) { checkBody(b); total += b.length }
    return this.backward.crypt(bodies.length === 1 ? bodies[0] as Uint8Array : Buffer.concat(bodies, total))
  }

  /** Adds this hop's layer to a backward body from a later hop. */
  relayBackward (body: Uint8Array): Uint8Array {
    checkBody(body)
    return this.backward.crypt(body)
  }

  /** The full digest of the last forward cell this hop recognized (its SENDME tag). */
  get lastForwardDigest (): Uint8Array {
    return this.forward.lastDigest
  }

  /** The full digest of the last backward cell this hop sent. */
  get lastBackwardDigest (): Uint8Array {
    return this.backward.lastDigest
  }
}
