/**
 * A relay's ntor onion keys, rotated every 7 days by default, the previous key accepted for 7 days
 * more, so a client holding a descriptor published just before a rotation still completes its
 * handshake (tor rotates every 28 days since proposal 274; peerd's descriptors live at most a
 * day, so a shorter period costs nothing). Rotation limits what a stolen onion key gives: the handshakes
 * of one key's lifetime and grace, not the relay's whole life.
 *
 * Persisted in one file (`onion-keys`, mode 0600, in a 0700 directory) written atomically
 * (temporary file, fsync, rename): a restart keeps the keys clients know from the published
 * descriptor. Format: `u8 version (1) | u8 count (1 or 2) | { u64 created ms | u64 retired ms
 * (0: current) | 32-byte X25519 private key }…`, current first.
 *
 * ```ts
 * const ring = await OnionKeyRing.open(join(dataDir, 'onion'))
 * const relay = new OnionRelay({ host, network, onionKeys: ring })
 * if (await ring.rotateIfDue()) await exchange.republish() // the descriptor names the new key
 * ```
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { RelayDirectoryError } from './directory-errors.ts'
import { KEY_BYTES, ntorKeyPair } from './ntor.ts'
import type { NtorKeyPair } from './ntor.ts'

/** Tor's onion key rotation period: 7 days. */
export const ONION_KEY_ROTATION_MS = 7 * 24 * 3600_000
/** How long a retired onion key is still accepted (tor: 7 days). */
export const ONION_KEY_GRACE_MS = 7 * 24 * 3600_000
/** File name of the key ring in its directory. */
export const ONION_KEYS_FILE = 'onion-keys'

const VERSION = 1
const RECORD_BYTES = 8 + 8 + KEY_BYTES

/** Options of {@link OnionKeyRing.open}. */
export interface OnionKeyRingOptions {
  /** Rotation period (default {@link ONION_KEY_ROTATION_MS}). */
  rotationMs?: number
  /** Grace of a retired key (default {@link ONION_KEY_GRACE_MS}). */
  graceMs?: number
  /** Unix ms of the open (tests); defaults to now. */
  now?: number
}

interface Entry {
  pair: NtorKeyPair
  created: number
  /** When it stopped being current; 0 while current. */
  retired: number
}

/** The relay's current onion key and the previous one during its grace; see the module header. */
export class OnionKeyRing {
  readonly rotationMs: number
  readonly graceMs: number
  private readonly file: string
  private entries: Entry[]

  private constructor (file: string, entries: Entry[], options: OnionKeyRingOptions) {
    this.file = file
    this.entries = entries
    this.rotationMs = options.rotationMs ?? ONION_KEY_ROTATION_MS
    this.graceMs = options.graceMs ?? ONION_KEY_GRACE_MS
  }

  /**
   * Loads the ring from `dir` (created 0700 if missing), or makes and saves a first key. Rotates
   * at once if the current key is past due (a node that was off for weeks).
   *
   * @throws {RelayDirectoryError} when the file exists but is not a key ring
   */
  static async open (dir: string, options: OnionKeyRingOptions = {}): Promise<OnionKeyRing> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const file = join(dir, ONION_KEYS_FILE)
    const now = options.now ?? Date.now()
    let bytes: Uint8Array | undefined
    try {
      bytes = await readFile(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (bytes == null) {
      const ring = new OnionKeyRing(file, [{ pair: ntorKeyPair(), created: now, retired: 0 }], options)
      await ring.save()
      return ring
    }
    const ring = new OnionKeyRing(file, decode(bytes, file), options)
    await ring.rotateIfDue(now)
    return ring
  }

  /** The key a new descriptor publishes and new handshakes use. */
  current (): NtorKeyPair {
    return (this.entries[0] as Entry).pair
  }

  /** When the current key was made (Unix ms). */
  get currentSince (): number {
    return (this.entries[0] as Entry).created
  }

  /** The key pair whose public half is `publicKey`: the current key, or the previous one in its grace. */
  find (publicKey: Uint8Array, now = Date.now()): NtorKeyPair | undefined {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) return undefined
    for (const e of this.entries) {
      if (e.retired !== 0 && now >= e.retired + this.graceMs) continue
      if (timingSafeEqual(e.pair.publicKey, publicKey)) return e.pair
    }
    return undefined
  }

  /**
   * Makes a new current key when the current one is `rotationMs` old, and forgets a retired key
   * past its grace; saves when anything changed.
   *
   * @returns whether the current key changed (the relay's descriptor must be republished)
   */
  async rotateIfDue (now = Date.now()): Promise<boolean> {
    const cur = this.entries[0] as Entry
    let rotated = false
    let changed = false
    if (now >= cur.created + this.rotationMs) {
      this.entries = [{ pair: ntorKeyPair(), created: now, retired: 0 }, { ...cur, retired: now }]
      rotated = changed = true
    }
    const kept = this.entries.filter(e => e.retired === 0 || now < e.retired + this.graceMs)
    if (kept.length !== this.entries.length) { this.entries = kept; changed = true }
    if (changed) await this.save()
    return rotated
  }

  /** Writes the ring atomically with mode 0600. */
  private async save (): Promise<void> {
    const out = new Uint8Array(2 + this.entries.length * RECORD_BYTES)
    const view = new DataView(out.buffer)
    out[0] = VERSION
    out[1] = this.entries.length
    this.entries.forEach((e, i) => {
      const at = 2 + i * RECORD_BYTES
      view.setBigUint64(at, BigInt(e.created))
      view.setBigUint64(at + 8, BigInt(e.retired))
      out.set(e.pair.privateKey, at + 16)
    })
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(out)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.file)
    out.fill(0)
  }
}

function decode (bytes: Uint8Array, file: string): Entry[] {
  const count = bytes[1] ?? 0
  if (bytes[0] !== VERSION || count < 1 || count > 2 || bytes.length !== 2 + count * RECORD_BYTES) {
    throw new RelayDirectoryError(`${file} is not an onion key ring of version ${VERSION} (${bytes.length} bytes); move it away to make new keys`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: Entry[] = []
  for (let i = 0; i < count; i++) {
    const at = 2 + i * RECORD_BYTES
    const created = Number(view.getBigUint64(at))
    const retired = Number(view.getBigUint64(at + 8))
    entries.push({ pair: ntorKeyPair(bytes.slice(at + 16, at + 16 + KEY_BYTES)), created, retired })
  }
  if ((entries[0] as Entry).retired !== 0) throw new RelayDirectoryError(`${file} has no current onion key`)
  return entries
}
