/**
 * Money: the unit, the block subsidy with its halving schedule, the exact supply cap it
 * implies, and the range check every amount and every sum of amounts must pass.
 *
 * Amounts are `bigint` base units with 8 decimals (`COIN` units make one coin), as in
 * Bitcoin Core's `src/amount.h`; the subsidy rule is Core's `GetBlockSubsidy`
 * (src/validation.cpp).
 *
 * @example
 * ```ts
 * blockSubsidy(0, params)                 // params.initialSubsidy
 * moneyRange(tx.outputs[0].value, params.maxMoney)
 * ```
 * @module
 */

/** Base units in one coin: 8 decimals. */
export const COIN = 100_000_000n

/**
 * The default bound for {@link moneyRange}: 21,000,000 coins, as Bitcoin's `MAX_MONEY`. It is
 * a sanity bound, not the supply (see {@link totalSupply}), and must be at least the supply;
 * 2.1·10^15 base units also stays below 2^53, so amounts are exact as JSON numbers.
 */
export const MAX_MONEY = 21_000_000n * COIN

/** The two numbers that define the issuance schedule. */
export interface SubsidyParams {
  /** Subsidy of the blocks before the first halving, in base units. */
  readonly initialSubsidy: bigint
  /** Blocks between halvings (Bitcoin: 210,000). */
  readonly halvingInterval: number
}

function assertSchedule (params: SubsidyParams): void {
  if (!Number.isSafeInteger(params.halvingInterval) || params.halvingInterval <= 0) {
    throw new RangeError('halvingInterval must be a positive integer')
  }
  if (params.initialSubsidy < 0n) throw new RangeError('initialSubsidy must not be negative')
}

/**
 * The new coins a block at `height` may create, as Bitcoin Core's `GetBlockSubsidy`: the
 * initial subsidy shifted right once per completed halving interval, and 0 from the 64th
 * halving on (where C++'s shift of a 64-bit value would be undefined). Fees come on top.
 */
export function blockSubsidy (height: number, params: SubsidyParams): bigint {
  assertSchedule(params)
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError('height must be a non-negative integer')
  const halvings = Math.floor(height / params.halvingInterval)
  if (halvings >= 64) return 0n
  return params.initialSubsidy >> BigInt(halvings)
}

/**
 * Every coin the subsidy schedule will ever create: the sum over the 64 halving eras of
 * `halvingInterval × (initialSubsidy >> era)`, exact (the truncation of each halving
 * included), e.g. 2,099,999,997,690,000 base units for Bitcoin's schedule.
 */
export function totalSupply (params: SubsidyParams): bigint {
  assertSchedule(params)
  const interval = BigInt(params.halvingInterval)
  let total = 0n
  for (let era = 0n; era < 64n; era++) total += interval * (params.initialSubsidy >> era)
  return total
}

/**
 * Bitcoin Core's `MoneyRange`: 0 ≤ amount ≤ maxMoney. Since CVE-2010-5139 (an output sum
 * that overflowed and minted 184 billion coins) consensus checks every value *and* every
 * running sum with it, before the sum can grow further.
 */
export function moneyRange (amount: bigint, maxMoney: bigint = MAX_MONEY): boolean {
  return amount >= 0n && amount <= maxMoney
}

/**
 * Sums amounts the way consensus must (CVE-2010-5139): each amount and each partial sum is
 * checked with {@link moneyRange}. Returns `undefined` as soon as one is out of range, so a
 * caller maps that to its own rejection reason (outputs: `bad-txns-vout-*`/`bad-txns-txouttotal-toolarge`,
 * inputs: `bad-txns-inputvalues-outofrange`).
 */
export function sumMoney (amounts: Iterable<bigint>, maxMoney: bigint = MAX_MONEY): bigint | undefined {
  let total = 0n
  for (const amount of amounts) {
    if (!moneyRange(amount, maxMoney)) return undefined
    total += amount
    if (!moneyRange(total, maxMoney)) return undefined
  }
  return total
}
