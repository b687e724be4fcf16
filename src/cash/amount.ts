/**
 * Amounts as people write them (coins, a decimal with up to 8 places: `1.25`) and as the
 * ledger keeps them (base units, `bigint`; 1 coin = 100,000,000 units).
 * @module
 */
import { InvalidArgumentError } from '../errors.ts'
import { COIN, MAX_MONEY } from './consensus/subsidy.ts'

/**
 * Parses a positive amount of coins written as a decimal (`1`, `0.5`, `1.25000000`) into base
 * units. Refuses signs, exponents, more than 8 decimals, zero and anything above the supply
 * cap with an {@link InvalidArgumentError} that says which.
 */
export function parseCoins (text: string): bigint {
  const s = text.trim()
  if (s.startsWith('-')) throw new InvalidArgumentError(`amount must be positive, got ${text}`)
  const m = /^(\d{1,8})(?:\.(\d+))?$/.exec(s)
  if (m == null) throw new InvalidArgumentError(`amount must be a number of coins such as 1.25, got "${text}"`)
  const frac = m[2] ?? ''
  if (frac.length > 8) throw new InvalidArgumentError(`amount has ${frac.length} decimals; the smallest unit is 0.00000001 (8 decimals)`)
  const units = BigInt(m[1] as string) * COIN + BigInt(frac.padEnd(8, '0') || '0')
  if (units <= 0n) throw new InvalidArgumentError('amount must be more than zero')
  if (units > MAX_MONEY) throw new InvalidArgumentError(`amount is more than all the coins there will ever be (${formatCoins(MAX_MONEY)})`)
  return units
}

/** Base units as a decimal number of coins, trailing zeros dropped (`125000000n` → `1.25`). */
export function formatCoins (units: bigint | number): string {
  const u = BigInt(units)
  const neg = u < 0n
  const abs = neg ? -u : u
  const whole = abs / COIN
  const frac = (abs % COIN).toString().padStart(8, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${whole}${frac === '' ? '' : `.${frac}`}`
}
