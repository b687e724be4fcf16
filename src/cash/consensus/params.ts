/**
 * Consensus parameters of each Cash network. Plain frozen data: the rule functions take
 * what they need from here, nothing reads a global network setting.
 *
 * @example
 * ```ts
 * const params = chainParams('main')
 * blockSubsidy(height, params)
 * checkProofOfWork(hash, bits, params.powLimit)
 * ```
 * @module
 */

import type { NetworkName } from '../../net/networks.ts'
import { genesisInfo } from './genesis.ts'
import { encodeCompact } from './pow.ts'
import { COIN, MAX_MONEY } from './subsidy.ts'

/** The networks a node can run: net's list (`NETWORK_NAMES`), declared once there. */
export type Network = NetworkName

/** The genesis block as consensus code refers to it (the block itself: `genesisBlock(network)`). */
export interface ChainGenesis {
  /** Header hash (sha256d), 32 bytes in internal (little-endian) order. */
  readonly hash: Uint8Array
  /** Header timestamp, seconds since the Unix epoch. */
  readonly time: number
  /** Header compact target. */
  readonly bits: number
}

/** Everything consensus needs to know about one network. Times are in seconds. */
export interface ChainParams {
  readonly network: Network
  /** Ideal time between blocks (ASERT's `ideal_block_time`). */
  readonly targetSpacing: number
  /** ASERT half-life: this many seconds ahead of (behind) schedule halves (doubles) the target. */
  readonly asertHalfLife: number
  /** The easiest target a block may claim (`CheckProofOfWork` rejects anything easier). */
  readonly powLimit: bigint
  /** `powLimit` in compact form; with {@link noRetargeting}, the bits of every block. */
  readonly powLimitBits: number
  /** Skip difficulty adjustment: every block carries {@link powLimitBits} (Bitcoin's fPowNoRetargeting). */
  readonly noRetargeting: boolean
  /** Subsidy before the first halving, base units. */
  readonly initialSubsidy: bigint
  /** Blocks between subsidy halvings. */
  readonly halvingInterval: number
  /** Upper bound of `moneyRange`; at least `totalSupply(params)`. */
  readonly maxMoney: bigint
  /** Confirmations before a coinbase output may be spent (Bitcoin: 100). */
  readonly coinbaseMaturity: number
  /** Maximum block weight, BIP 141 weight units. */
  readonly maxBlockWeight: number
  /** Blocks in the median-time-past window (BIP 113). */
  readonly medianTimeSpan: number
  /** How far a header's time may lie ahead of the node's adjusted clock. */
  readonly maxFutureBlockTime: number
  /** The deepest reorganisation the node accepts; deeper forks need an operator. */
  readonly maxReorgDepth: number
  /**
   * Chain work a header chain must reach before any of its blocks is downloaded, and an
   * unrequested block stored (Bitcoin Core's `nMinimumChainWork`): a new node is not fed a
   * cheap chain of its own making while it catches up.
   */
  readonly minimumChainWork: bigint
  /** Bech32m human-readable part of addresses (BIP 350). */
  readonly bech32Hrp: string
  /** The genesis block's hash, time and bits (ASERT's anchor on retargeting networks). */
  readonly genesis: ChainGenesis
}

/*
 * Main network.
 *
 * Target spacing 60 s: ten times Bitcoin's rate, for a first confirmation in about a
 * minute; the spacing stays long against the seconds a block needs to cross a small network.
 *
 * Issuance: 5 coins a block halving every 2,100,000 blocks (≈ 3.99 years at 60 s) is
 * Bitcoin's 50 coins per 600 s per 210,000 blocks: the same coins per unit of time and the
 * same 21 million cap (exactly 20,999,999.727 coins, see totalSupply). A 50-coin subsidy at
 * 60 s would cap at 210 million coins = 2.1·10^16 base units, past 2^53 ≈ 9.007·10^15, and
 * the API hands amounts out as JSON numbers; 2.1·10^15 is exact there.
 *
 * powLimit = 2^236 − 1 (bits 0x1e0fffff): the easiest block needs 2^256 / 2^236 = 2^20
 * ≈ 1.05 million hashes on average. Measured sha256d of an 80-byte header in Node 24 with
 * @noble/hashes: ≈ 0.5 MH/s per core, so
 *   - one core mines a minimum-difficulty block in ≈ 2 s; the network keeps 60 s blocks as
 *     long as it has at least 2^20 / 60 s ≈ 17.5 kH/s, a few percent of one core;
 *   - a few home computers (3 machines × 4 cores × 0.5 MH/s ≈ 6 MH/s, ≈ 3.6·10^8 ≈ 2^28.4
 *     hashes a minute) sit ≈ 2^8.4 above the floor, so ASERT works unclamped with about
 *     8 half-lives (8 hours) of room before an idle network drops to powLimit;
 *   - refTarget × factor in ASERT (factor < 2^17) stays below 2^253, so an implementation in
 *     256-bit integers (arith_uint256) computes it without overflow, which a 2^240 limit
 *     would not allow.
 * Like Bitcoin's 2^224 − 1, the limit is all ones; its compact form decodes to slightly less.
 *
 * ASERT half-life 3600 s (60 blocks). BCH uses 2 days (288 blocks) for a chain with steady,
 * large hash rate. Here a single miner joining or leaving can double or halve the hash rate,
 * so the target should follow within about an hour, not two days; the price is noise: the
 * hash-rate estimate rests on ~60 blocks (standard error ≈ 1/√60 ≈ 13 %, versus ≈ 6 % for
 * 288 blocks). The fixed-point exponent still resolves 3600 / 65536 ≈ 0.05 s, finer than the
 * 1 s timestamps.
 *
 * Coinbase maturity 100 blocks (≈ 1.7 hours at 60 s): newly minted coins cannot be spent
 * until a reorganisation that would erase them is implausible, as in Bitcoin.
 *
 * Max reorg depth 1,000 blocks (≈ 17 hours): a fork deeper than that is treated as an attack
 * or a partition for an operator to resolve rather than followed automatically.
 *
 * Minimum chain work: none yet, as Bitcoin's at its launch. Above the network's real work,
 * nodes ignore each other's blocks and fetch none from headers, so a network that has not run
 * that long would split into lone miners, past `maxReorgDepth` for good. Once main runs, set it
 * at each release to the work of a block some weeks old, as Bitcoin Core does.
 */
function main (): ChainParams {
  const powLimit = (1n << 236n) - 1n
  return {
    network: 'main',
    targetSpacing: 60,
    asertHalfLife: 3600,
    powLimit,
    powLimitBits: encodeCompact(powLimit),
    noRetargeting: false,
    initialSubsidy: 5n * COIN,
    halvingInterval: 2_100_000,
    maxMoney: MAX_MONEY,
    coinbaseMaturity: 100,
    maxBlockWeight: 4_000_000,
    medianTimeSpan: 11,
    maxFutureBlockTime: 2 * 60 * 60,
    maxReorgDepth: 1_000,
    minimumChainWork: 0n,
    bech32Hrp: 'pd',
    genesis: genesisInfo('main')
  }
}

/*
 * Regression-test network, for tests and local development: any hash meets the target
 * (powLimit 2^255 − 1, bits 0x207fffff, two hashes per block on average, as Bitcoin's
 * regtest) and the target never changes. Halvings every 150 blocks and a 10-block coinbase
 * maturity let tests exercise both within a few hundred blocks. A 600 s (10-block) half-life
 * is set for tests that run ASERT on these parameters; the chain itself does not use it.
 * Reorgs up to 10,000 blocks are followed so tests can build deep forks. No minimum chain work:
 * every test starts a chain from genesis.
 */
function regtest (): ChainParams {
  const powLimit = (1n << 255n) - 1n
  return {
    network: 'regtest',
    targetSpacing: 60,
    asertHalfLife: 600,
    powLimit,
    powLimitBits: encodeCompact(powLimit),
    noRetargeting: true,
    initialSubsidy: 5n * COIN,
    halvingInterval: 150,
    maxMoney: MAX_MONEY,
    coinbaseMaturity: 10,
    maxBlockWeight: 4_000_000,
    medianTimeSpan: 11,
    maxFutureBlockTime: 2 * 60 * 60,
    maxReorgDepth: 10_000,
    minimumChainWork: 0n,
    bech32Hrp: 'pdrt',
    genesis: genesisInfo('regtest')
  }
}

/**
 * The consensus parameters of `network`, as a new frozen object (callers may spread it to
 * derive test variants).
 */
export function chainParams (network: Network): ChainParams {
  switch (network) {
    case 'main': return Object.freeze(main())
    case 'regtest': return Object.freeze(regtest())
    default: throw new RangeError(`unknown network: ${String(network)}`)
  }
}
