/**
 * Cash addresses: a witness version 1 program of 32 bytes (a P2TR output key, BIP341) in
 * bech32m (BIP350) under the network's own prefix: "pd" on main, "pdrt" on regtest.
 * P2TR key-path is the only spendable output type, so the decoder accepts nothing else:
 * other witness versions and program lengths, valid as they may be in Bitcoin, are errors here.
 *
 * ```ts
 * const address = encodeAddress('pd', outputKey)       // 'pd1p…'
 * const program = decodeAddress(address, 'pd')         // outputKey again
 * const script = p2trScript(program)                   // 0x51 0x20 <32 bytes>
 * programFromScript(script)                            // outputKey, or undefined for any other script
 * ```
 *
 * Checks run in this order, so the reason names the first thing wrong: shape (length, case,
 * separator, characters), checksum, prefix (network), witness version, checksum variant,
 * padding, program length.
 */
import { bech32, bech32m } from '@scure/base'
import { PeerdError } from '../../errors.ts'

/** Witness version of P2TR outputs. */
export const P2TR_WITNESS_VERSION = 1
/** Length of a P2TR witness program: the x-only output key. */
export const P2TR_PROGRAM_LENGTH = 32
/** BIP173's limit on the length of a whole bech32(m) string. */
export const MAX_BECH32_LENGTH = 90

const OP_1 = 0x51
const PUSH_32 = 0x20
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'

/** Why an address (or the input of an address encoder) was refused. */
export type AddressErrorReason =
  /** Not a string, or longer than 90 characters. */
  | 'bad-length'
  /** Upper- and lowercase letters mixed (BIP173 allows all-upper or all-lower). */
  | 'mixed-case'
  /** No "1" separator, or nothing before it. */
  | 'bad-separator'
  /** A prefix character outside US-ASCII 33..126, or (encoding) a prefix that is not lowercase. */
  | 'bad-hrp'
  /** A data character outside the bech32 alphabet. */
  | 'bad-char'
  /** Fewer than 6 data characters, or neither a bech32 nor a bech32m checksum (a typo, most likely). */
  | 'bad-checksum'
  /** A valid address of another network: its prefix is not the expected one. */
  | 'wrong-hrp'
  /** No witness version, a version above 16, or a valid version other than 1. */
  | 'wrong-witness-version'
  /** A valid checksum of the wrong variant: bech32 where BIP350 requires bech32m (v1+), or the reverse (v0). */
  | 'wrong-checksum-variant'
  /** More than 4 bits of padding, or non-zero padding, in the 5-to-8-bit conversion. */
  | 'bad-padding'
  /** A witness program that is not 32 bytes. */
  | 'bad-program-length'

/** An address is malformed, belongs to another network or is not a P2TR address. */
export class AddressError extends PeerdError {
  static override name = 'AddressError'

  /** Stable machine-readable cause. */
  readonly reason: AddressErrorReason

  constructor (reason: AddressErrorReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** Checksum variant of a bech32-family string. */
export type Bech32Variant = 'bech32' | 'bech32m'

/** A bech32 or bech32m string taken apart: lowercase prefix, 5-bit data words, variant. */
export interface DecodedBech32 {
  /** Human-readable part (the prefix), lowercase. */
  hrp: string
  /** Data as 5-bit words, checksum removed. */
  words: number[]
  /** Which checksum matched. */
  variant: Bech32Variant
}

/**
 * Parse a bech32 or bech32m string (BIP173, BIP350), without any segwit rule.
 * The checksum layer of {@link decodeAddress}, exported for its own vectors.
 *
 * @param str - the string
 * @returns its prefix (lowercase), data words (checksum removed) and checksum variant
 * @throws AddressError with reason 'bad-length', 'mixed-case', 'bad-separator', 'bad-hrp',
 *   'bad-char' or 'bad-checksum'
 */
export function decodeBech32 (str: string): DecodedBech32 {
  if (typeof str !== 'string' || str.length > MAX_BECH32_LENGTH) {
    throw new AddressError('bad-length', `address must be a string of at most ${MAX_BECH32_LENGTH} characters`)
  }
  const lower = str.toLowerCase()
  if (str !== lower && str !== str.toUpperCase()) {
    throw new AddressError('mixed-case', 'address mixes upper- and lowercase letters')
  }
  const sep = lower.lastIndexOf('1')
  if (sep < 1) throw new AddressError('bad-separator', 'address has no prefix followed by the separator "1"')
  const hrp = lower.slice(0, sep)
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i)
    if (c < 33 || c > 126) throw new AddressError('bad-hrp', `address prefix has an invalid character (code ${c})`)
  }
  const data = lower.slice(sep + 1)
  for (const ch of data) {
    if (!CHARSET.includes(ch)) throw new AddressError('bad-char', `address has a character outside the bech32 alphabet: "${ch}"`)
  }
  if (data.length < 6) throw new AddressError('bad-checksum', 'address is too short to hold a checksum')
  // The structure is checked above, so the two decoders differ only by checksum constant.
  const m = bech32m.decodeUnsafe(lower, MAX_BECH32_LENGTH)
  if (m !== undefined) return { hrp, words: m.words, variant: 'bech32m' }
  const v0 = bech32.decodeUnsafe(lower, MAX_BECH32_LENGTH)
  if (v0 !== undefined) return { hrp, words: v0.words, variant: 'bech32' }
  throw new AddressError('bad-checksum', 'address checksum is wrong (mistyped address?)')
}

/**
 * Decode a Cash address: bech32m, the expected prefix, witness version 1, 32-byte program.
 * All-uppercase addresses are accepted (BIP173); mixed case is not.
 *
 * @param address - the address as a person typed or pasted it
 * @param expectedHrp - this network's prefix ("pd", "pdrt")
 * @returns the 32-byte witness program (the x-only output key)
 * @throws AddressError, its `reason` naming the first rule broken
 */
export function decodeAddress (address: string, expectedHrp: string): Uint8Array {
  const { hrp, words, variant } = decodeBech32(address)
  if (hrp !== expectedHrp) {
    throw new AddressError('wrong-hrp', `address is for another network (prefix "${hrp}"), expected prefix "${expectedHrp}"`)
  }
  const version = words[0]
  if (version === undefined) throw new AddressError('wrong-witness-version', 'address has no witness version')
  if (version > 16) throw new AddressError('wrong-witness-version', `address has an invalid witness version (${version})`)
  const expectedVariant: Bech32Variant = version === 0 ? 'bech32' : 'bech32m'
  if (variant !== expectedVariant) {
    throw new AddressError('wrong-checksum-variant',
      `witness version ${version} address must use a ${expectedVariant} checksum, not ${variant} (BIP350)`)
  }
  if (version !== P2TR_WITNESS_VERSION) {
    throw new AddressError('wrong-witness-version', `witness version ${version} address: only version 1 (P2TR) is accepted`)
  }
  const program = bech32m.fromWordsUnsafe(words.slice(1))
  if (program === undefined) throw new AddressError('bad-padding', 'address data has invalid padding')
  if (program.length !== P2TR_PROGRAM_LENGTH) {
    throw new AddressError('bad-program-length', `witness program is ${program.length} bytes, P2TR needs ${P2TR_PROGRAM_LENGTH}`)
  }
  return program
}

/**
 * Encode a P2TR output key as a Cash address (bech32m, witness version 1).
 *
 * @param hrp - the network's prefix ("pd", "pdrt"), lowercase
 * @param program32 - the 32-byte x-only output key
 * @returns the lowercase address
 * @throws AddressError 'bad-hrp' or 'bad-program-length'
 */
export function encodeAddress (hrp: string, program32: Uint8Array): string {
  if (typeof hrp !== 'string' || hrp.length === 0 || hrp !== hrp.toLowerCase() ||
      [...hrp].some(ch => ch.charCodeAt(0) < 33 || ch.charCodeAt(0) > 126) || hrp.includes('1')) {
    // '1' is legal in a prefix for bech32 in general, but a network prefix with one is a typo.
    throw new AddressError('bad-hrp', `invalid address prefix "${String(hrp)}": lowercase US-ASCII 33..126, no "1"`)
  }
  assertProgram(program32)
  return bech32m.encode(hrp, [P2TR_WITNESS_VERSION, ...bech32m.toWords(program32)], MAX_BECH32_LENGTH)
}

/**
 * The output script paying to a P2TR output key: `OP_1 <32 bytes>` (0x51 0x20 …), 34 bytes.
 *
 * @param program32 - the 32-byte x-only output key
 * @throws AddressError 'bad-program-length'
 */
export function p2trScript (program32: Uint8Array): Uint8Array {
  assertProgram(program32)
  const script = new Uint8Array(2 + P2TR_PROGRAM_LENGTH)
  script[0] = OP_1
  script[1] = PUSH_32
  script.set(program32, 2)
  return script
}

/**
 * The x-only output key of a P2TR output script, or `undefined` for any script that is not
 * exactly `OP_1 <32 bytes>` (0x51 0x20 followed by 32 bytes, 34 in all).
 *
 * @param script - an output script
 * @returns a copy of the 32-byte key, or undefined
 */
export function programFromScript (script: Uint8Array): Uint8Array | undefined {
  if (!(script instanceof Uint8Array) || script.length !== 2 + P2TR_PROGRAM_LENGTH ||
      script[0] !== OP_1 || script[1] !== PUSH_32) return undefined
  return script.slice(2)
}

function assertProgram (program: Uint8Array): void {
  if (!(program instanceof Uint8Array) || program.length !== P2TR_PROGRAM_LENGTH) {
    const len = program instanceof Uint8Array ? `${program.length} bytes` : 'not bytes'
    throw new AddressError('bad-program-length', `witness program must be ${P2TR_PROGRAM_LENGTH} bytes (got ${len})`)
  }
}
