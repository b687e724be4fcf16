/**
 * Encryption at rest of the wallet's secret (the BIP39 entropy): a key from scrypt (memory-hard,
 * RFC 7914) over the passphrase, and XChaCha20-Poly1305 (AEAD) over the secret.
 *
 * Record, all integers little-endian:
 * ```
 * version u8 (1) | kdf u8 (1 = scrypt) | log2 N u8 | r u32 | p u32 | salt (16) | nonce (24) | ciphertext ‖ tag (16)
 * ```
 * The associated data is a domain string followed by everything before the nonce (version, KDF
 * parameters, salt), so none of them can be changed without the tag failing. The nonce is random
 * (24 bytes: random nonces are safe for XChaCha), and so is the salt, for every encryption.
 *
 * Default KDF cost N = 2^17, r = 8, p = 1 (128 MiB, a fraction of a second with Node.js's native
 * scrypt, about twice as fast as @noble/hashes'): the cost Bitcoin-family wallets and RFC 7914's
 * interactive-login figure aim at, paid once per payment.
 * A wrong passphrase fails the tag: {@link WrongPassphraseError}, never garbage keys.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { InvalidArgumentError } from '../../errors.ts'
import { WalletDbError, WrongPassphraseError } from './errors.ts'

/** scrypt cost parameters (N = 2^logN). */
export interface ScryptParams {
  logN: number
  r: number
  p: number
}

/** The default KDF cost: N = 2^17, r = 8, p = 1. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ logN: 17, r: 8, p: 1 })
/** Format version of the record. */
export const SECRET_BOX_VERSION = 1
/** KDF identifier: scrypt. */
export const KDF_SCRYPT = 1
/** Most memory a stored record may ask scrypt for (a corrupt record must not exhaust the host). */
export const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024

const SALT = 16
const NONCE = 24
const TAG = 16
const HEADER = 1 + 1 + 1 + 4 + 4 + SALT
const DOMAIN = new TextEncoder().encode('peerd wallet secret\0')

function checkParams (params: ScryptParams, fail: (msg: string) => Error): void {
  const { logN, r, p } = params
  if (!Number.isInteger(logN) || logN < 1 || logN > 24) throw fail(`scrypt log2 N must be 1..24, got ${logN}`)
  if (!Number.isInteger(r) || r < 1 || r > 64) throw fail(`scrypt r must be 1..64, got ${r}`)
  if (!Number.isInteger(p) || p < 1 || p > 16) throw fail(`scrypt p must be 1..16, got ${p}`)
  if (scryptMemory(params) > MAX_SCRYPT_MEMORY) throw fail(`scrypt parameters need ${scryptMemory(params)} bytes, over ${MAX_SCRYPT_MEMORY}`)
}

/** Bytes scrypt needs for these parameters (128 · N · r · p, the V array and the B blocks). */
export function scryptMemory (params: ScryptParams): number {
  return 128 * 2 ** params.logN * params.r * params.p
}

function passphraseBytes (passphrase: string): Uint8Array {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new InvalidArgumentError('the wallet passphrase must be a non-empty string')
  // NFKD, as BIP39 does, so the same passphrase typed on another system gives the same bytes.
  return new TextEncoder().encode(passphrase.normalize('NFKD'))
}

async function deriveKey (passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  const pass = passphraseBytes(passphrase)
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      // Node's scrypt runs on the libuv pool, so the event loop stays free during the ~0.4 s.
      scryptCb(pass, salt, 32, { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: 2 * scryptMemory(params) }, (err, key) => {
        if (err !== null) reject(err)
        else resolve(new Uint8Array(key.buffer, key.byteOffset, key.length))
      })
    })
  } finally {
    pass.fill(0)
  }
}

function associatedData (header: Uint8Array): Uint8Array {
  const aad = new Uint8Array(DOMAIN.length + header.length)
  aad.set(DOMAIN, 0)
  aad.set(header, DOMAIN.length)
  return aad
}

/**
 * Encrypts `secret` under `passphrase` with fresh salt and nonce.
 *
 * @throws InvalidArgumentError for an empty passphrase or out-of-range parameters
 */
export async function sealSecret (secret: Uint8Array, passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<Uint8Array> {
  checkParams(params, (msg) => new InvalidArgumentError(msg))
  const salt = new Uint8Array(randomBytes(SALT))
  const nonce = new Uint8Array(randomBytes(NONCE))
  const header = new Uint8Array(HEADER)
  const view = new DataView(header.buffer)
  header[0] = SECRET_BOX_VERSION
  header[1] = KDF_SCRYPT
  header[2] = params.logN
  view.setUint32(3, params.r, true)
  view.setUint32(7, params.p, true)
  header.set(salt, 11)
  const key = await deriveKey(passphrase, salt, params)
  try {
    const sealed = xchacha20poly1305(key, nonce, associatedData(header)).encrypt(secret)
    const out = new Uint8Array(HEADER + NONCE + sealed.length)
    out.set(header, 0)
    out.set(nonce, HEADER)
    out.set(sealed, HEADER + NONCE)
    return out
  } finally {
    key.fill(0)
  }
}

/** The KDF parameters a record was sealed with. @throws WalletDbError for a malformed record */
export function sealedParams (record: Uint8Array): ScryptParams {
  if (record.length < HEADER + NONCE + TAG) throw new WalletDbError(`encrypted seed record is ${record.length} bytes, too short`)
  if (record[0] !== SECRET_BOX_VERSION) throw new WalletDbError(`encrypted seed record version ${record[0]} is not supported (expects ${SECRET_BOX_VERSION})`)
  if (record[1] !== KDF_SCRYPT) throw new WalletDbError(`encrypted seed record uses unknown KDF ${record[1]}`)
  const view = new DataView(record.buffer, record.byteOffset, record.length)
  const params = { logN: record[2] as number, r: view.getUint32(3, true), p: view.getUint32(7, true) }
  checkParams(params, (msg) => new WalletDbError(`encrypted seed record: ${msg}`))
  return params
}

/**
 * Decrypts a record made by {@link sealSecret}. The caller wipes the result.
 *
 * @throws WrongPassphraseError when the tag does not verify (wrong passphrase, or a record
 *   changed on disk); WalletDbError for a malformed record; InvalidArgumentError for an empty passphrase
 */
export async function openSecret (record: Uint8Array, passphrase: string): Promise<Uint8Array> {
  const params = sealedParams(record)
  const header = record.subarray(0, HEADER)
  const nonce = record.subarray(HEADER, HEADER + NONCE)
  const key = await deriveKey(passphrase, record.slice(11, HEADER), params)
  try {
    return xchacha20poly1305(key, nonce, associatedData(header)).decrypt(record.subarray(HEADER + NONCE))
  } catch (err) {
    throw new WrongPassphraseError(undefined, { cause: err })
  } finally {
    key.fill(0)
  }
}
