/**
 * The genesis block of each network, fixed in code: a coinbase whose scriptSig is the BIP34
 * push of height 0 (OP_0) and a short message, one zero-value `OP_RETURN` output (nothing in
 * a genesis block is ever spendable, as in Bitcoin), and a header at the network's powLimit
 * bits whose nonce was found once by grinding and written down here.
 *
 * This module imports neither `params.ts` nor anything that does, so `params.ts` can fill
 * `ChainParams.genesis` from {@link genesisInfo} without an import cycle; a test checks the
 * bits here equal each network's `powLimitBits`.
 *
 * @example
 * ```ts
 * const genesis = genesisBlock('main')
 * hashToHex(headerHash(genesis.header)) // the hard-coded GENESIS_HASH_HEX.main
 * ```
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { HASH_SIZE, hexToHash } from '../primitives/hash.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { COINBASE_INDEX, txid } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'
import type { ChainGenesis, Network } from './params.ts'

/** The fixed inputs of one network's genesis block. */
interface GenesisSpec {
  readonly message: string
  readonly time: number
  readonly bits: number
  readonly nonce: number
}

/** 2026-11-22T00:00:00Z for both networks (close to launch: ASERT's schedule starts here, see `nextBits`). */
const GENESIS_TIME = 1_795_305_600

const SPECS: Readonly<Record<Network, GenesisSpec>> = {
  // bits = encodeCompact(2^236 - 1), main's powLimitBits; the nonce meets it (≈ 2^20 tries).
  main: { message: 'peerd cash 2026-11-22: payments only, keys not scripts', time: GENESIS_TIME, bits: 0x1e0fffff, nonce: 790_944 },
  // bits = encodeCompact(2^255 - 1), regtest's powLimitBits.
  regtest: { message: 'peerd cash regtest', time: GENESIS_TIME, bits: 0x207fffff, nonce: 1 }
}

/** The genesis block hashes, as displayed (reversed hex); tests recompute them. */
export const GENESIS_HASH_HEX: Readonly<Record<Network, string>> = {
  main: '0000002d430a8375ab9987d1880682103c3dbd4742c51b701a9777f1097394e4',
  regtest: '54a5c1dded3942352ef55020bd4ed6e9fe060833990f88aa34a84f0478d7ff7b'
}

function spec (network: Network): GenesisSpec {
  const s = SPECS[network]
  if (s === undefined) throw new RangeError(`unknown network: ${String(network)}`)
  return s
}

function genesisCoinbase (message: string): Transaction {
  const text = new TextEncoder().encode(message)
  // A direct push holds at most 75 bytes; the scriptSig must stay within 2..100 bytes.
  if (text.length > 75) throw new RangeError('genesis message too long')
  const scriptSig = new Uint8Array(2 + text.length)
  scriptSig[0] = 0x00 // BIP34: `CScript() << 0` is OP_0
  scriptSig[1] = text.length
  scriptSig.set(text, 2)
  return {
    version: 1,
    inputs: [{ prevout: { txid: new Uint8Array(HASH_SIZE), index: COINBASE_INDEX }, scriptSig, sequence: 0xffffffff, witness: [] }],
    outputs: [{ amount: 0n, script: Uint8Array.of(0x6a) }],
    lockTime: 0
  }
}

/**
 * The genesis block of `network`, as a fresh object (callers may mutate their copy).
 *
 * @throws RangeError for an unknown network
 */
export function genesisBlock (network: Network): Block {
  const s = spec(network)
  const coinbase = genesisCoinbase(s.message)
  const header: BlockHeader = {
    version: 1,
    prevHash: new Uint8Array(HASH_SIZE),
    merkleRoot: txid(coinbase),
    time: s.time,
    bits: s.bits,
    nonce: s.nonce
  }
  return { header, txs: [coinbase] }
}

/**
 * What `ChainParams.genesis` holds for `network`: the hash (from {@link GENESIS_HASH_HEX},
 * checked against {@link genesisBlock} by the tests), time and bits.
 */
export function genesisInfo (network: Network): ChainGenesis {
  const s = spec(network)
  return Object.freeze({ hash: hexToHash(GENESIS_HASH_HEX[network]), time: s.time, bits: s.bits })
}
