/**
 * Keys of the wallet: a BIP39 mnemonic (English), the BIP32 master key from its seed, and BIP86
 * key-path-only P2TR addresses on `m/86'/coin'/0'/branch/index`.
 *
 * - `create` makes a 24-word mnemonic (256 bits of entropy, BIP39's strongest; 12 words would
 *   give 128 bits, also sound, but a long-lived cash seed is worth the twelve extra words).
 *   `restore` takes any BIP39 length (12, 15, 18, 21 or 24 words).
 * - No BIP39 passphrase (the "25th word" is empty): the wallet passphrase only encrypts the seed
 *   at rest (`secret-box.ts`), so the mnemonic alone restores the funds.
 * - Coin type: 1 on regtest (SLIP-44's "testnet, all coins"), {@link MAIN_COIN_TYPE} on main.
 * - Branch 0 receives, branch 1 is change (BIP44's external and internal chains).
 * - The output key is BIP86's: the BIP341 taproot tweak of the internal key with no script
 *   tree, `Q = P + int(hashTapTweak(P))·G` (btc-signer's `p2tr(P)`); the address is Q in
 *   bech32m under the network's prefix.
 *
 * Only the account's extended public key is kept in clear; addresses derive from it without
 * the seed. Private keys exist only while a payment is signed (see `payment.ts`).
 */
import { HDKey } from '@scure/bip32'
import { entropyToMnemonic, generateMnemonic, mnemonicToEntropy, mnemonicToSeedSync } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { p2tr } from '@scure/btc-signer'
import { InvalidArgumentError } from '../../errors.ts'
import type { Network } from '../consensus/params.ts'
import { encodeAddress, p2trScript } from '../primitives/address.ts'

/**
 * BIP44 coin type of the main network: 73373 ("PEERD" on a phone keypad). Not Bitcoin's 0, so
 * a mnemonic shared with a Bitcoin wallet never derives the same keys; not in the SLIP-44
 * registry we checked, and to be registered there before a public release.
 */
export const MAIN_COIN_TYPE = 73373
/** BIP44 coin type of test networks (SLIP-44: "Testnet, all coins"). */
export const TEST_COIN_TYPE = 1
/** BIP86's purpose field. */
export const BIP86_PURPOSE = 86
/** Entropy of a new mnemonic, bits (24 words). */
export const MNEMONIC_STRENGTH = 256
/** Word counts BIP39 defines. */
export const MNEMONIC_WORD_COUNTS: readonly number[] = [12, 15, 18, 21, 24]

/** Branch of the account: 0 receives payments, 1 takes change. */
export type Branch = 0 | 1
/** The receive branch (BIP44 external chain). */
export const RECEIVE: Branch = 0
/** The change branch (BIP44 internal chain). */
export const CHANGE: Branch = 1

/** The BIP44 coin type of `network`. */
export function coinType (network: Network): number {
  return network === 'main' ? MAIN_COIN_TYPE : TEST_COIN_TYPE
}

/** The BIP86 account path: `m/86'/coin'/0'`. */
export function accountPath (network: Network): string {
  return `m/${BIP86_PURPOSE}'/${coinType(network)}'/0'`
}

/** The path of one address, for display. */
export function addressPath (network: Network, branch: Branch, index: number): string {
  return `${accountPath(network)}/${branch}/${index}`
}

/** btc-signer's network object for an address prefix (only `bech32` matters for P2TR). */
export function btcNetwork (hrp: string): { bech32: string, pubKeyHash: number, scriptHash: number, wif: number } {
  return { bech32: hrp, pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 }
}

/** A fresh 24-word English mnemonic from the system's CSPRNG. */
export function newMnemonic (): string {
  return generateMnemonic(wordlist, MNEMONIC_STRENGTH)
}

/**
 * Checks a mnemonic a person typed: case, surrounding and repeated whitespace are forgiven;
 * word count, words and the BIP39 checksum are not. Messages never quote the words.
 *
 * @returns the BIP39 entropy (16–32 bytes; the caller wipes it)
 * @throws InvalidArgumentError naming the problem
 */
export function mnemonicEntropy (input: string): Uint8Array {
  if (typeof input !== 'string') throw new InvalidArgumentError('mnemonic must be a string of words')
  const words = input.normalize('NFKD').trim().toLowerCase().split(/\s+/).filter((w) => w.length > 0)
  if (!MNEMONIC_WORD_COUNTS.includes(words.length)) {
    throw new InvalidArgumentError(`mnemonic must have 12 or 24 words (BIP39 allows ${MNEMONIC_WORD_COUNTS.join(', ')}), got ${words.length}`)
  }
  const unknown = words.findIndex((w) => !wordlist.includes(w))
  if (unknown !== -1) throw new InvalidArgumentError(`mnemonic word ${unknown + 1} is not in the BIP39 English word list`)
  try {
    return mnemonicToEntropy(words.join(' '), wordlist)
  } catch (err) {
    throw new InvalidArgumentError('mnemonic checksum does not match: a word is wrong or out of order', { cause: err })
  }
}

/** The mnemonic of some entropy (for showing it once at creation). */
export function entropyMnemonic (entropy: Uint8Array): string {
  return entropyToMnemonic(entropy, wordlist)
}

/**
 * The BIP86 account key (private) of a seed's entropy: mnemonic → BIP39 seed (PBKDF2, empty
 * passphrase) → BIP32 master → `m/86'/coin'/0'`. The seed and master are wiped before return;
 * the caller wipes the account with `wipePrivateData()`.
 */
export function accountFromEntropy (entropy: Uint8Array, network: Network): HDKey {
  const seed = mnemonicToSeedSync(entropyToMnemonic(entropy, wordlist))
  const master = HDKey.fromMasterSeed(seed)
  seed.fill(0)
  try {
    return master.derive(accountPath(network))
  } finally {
    master.wipePrivateData()
  }
}

/** One address of the account. */
export interface DerivedAddress {
  branch: Branch
  index: number
  /** BIP86 internal key, x-only (32 bytes): the one the private key signs for, before the tweak. */
  internalKey: Uint8Array
  /** Tweaked x-only output key (32 bytes), the witness program. */
  outputKey: Uint8Array
  /** `OP_1 <outputKey>`. */
  script: Uint8Array
  /** bech32m address. */
  address: string
}

/** Derives the account's addresses from its extended public key (no secrets involved). */
export class AddressDeriver {
  private readonly branches: [HDKey, HDKey]
  private readonly hrp: string

  /**
   * @param xpub - the account's BIP32 extended public key (`m/86'/coin'/0'`)
   * @param hrp - the network's address prefix
   */
  constructor (xpub: string, hrp: string) {
    const account = HDKey.fromExtendedKey(xpub)
    if (account.privateKey != null) throw new TypeError('AddressDeriver takes a public key')
    this.branches = [account.deriveChild(0), account.deriveChild(1)]
    this.hrp = hrp
  }

  /** Address `index` of `branch`. */
  derive (branch: Branch, index: number): DerivedAddress {
    const node = this.branches[branch].deriveChild(index)
    const internalKey = (node.publicKey as Uint8Array).slice(1)
    const outputKey = Uint8Array.from(p2tr(internalKey, undefined, btcNetwork(this.hrp)).tweakedPubkey)
    return { branch, index, internalKey, outputKey, script: p2trScript(outputKey), address: encodeAddress(this.hrp, outputKey) }
  }
}
