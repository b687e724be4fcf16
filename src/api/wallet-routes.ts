/**
 * Wallet routes of the API: create, restore, the recovery words, a fresh address, balance,
 * history, and send.
 * The passphrase travels in the request body (loopback, cookie-authenticated) and is used only
 * to decrypt the keys for the one operation.
 */
import { parseCoins } from '../cash/amount.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import type { Route } from './router.ts'
import type { Balance, HistoryEntry } from './types.ts'

function str (body: unknown, key: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[key]
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`request body must be a JSON object with a non-empty string "${key}"`)
  return v
}

/** The wallet routes. */
export function walletRoutes (node: PeerdNode): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/wallet/create',
      handler: async ({ body }) => await node.cash.walletCreate(str(body, 'passphrase'))
    },
    {
      method: 'POST',
      path: '/api/v1/wallet/restore',
      handler: async ({ body }) => await node.cash.walletRestore(str(body, 'mnemonic'), str(body, 'passphrase'))
    },
    {
      method: 'POST',
      path: '/api/v1/wallet/mnemonic',
      handler: async ({ body }) => await node.cash.walletMnemonic(str(body, 'passphrase'))
    },
    {
      method: 'POST',
      path: '/api/v1/wallet/address',
      handler: async () => ({ address: await node.cash.walletAddress() })
    },
    {
      method: 'GET',
      path: '/api/v1/wallet/balance',
      handler: async () => await node.cash.walletBalance() satisfies Balance
    },
    {
      method: 'GET',
      path: '/api/v1/wallet/history',
      handler: async () => await node.cash.walletHistory() satisfies HistoryEntry[]
    },
    {
      method: 'POST',
      path: '/api/v1/send',
      handler: async ({ body }) => {
        const b = (body ?? {}) as { amount?: unknown, feeRate?: unknown }
        if (typeof b.amount !== 'string') throw new InvalidArgumentError('"amount" must be a string of coins, e.g. "1.25"')
        if (b.feeRate != null && (typeof b.feeRate !== 'number' || !(b.feeRate >= 1 && b.feeRate <= 1_000_000))) throw new InvalidArgumentError('"feeRate" must be a number of base units per vbyte from 1 to 1000000')
        return await node.cash.send({ address: str(body, 'address'), amount: parseCoins(b.amount), feeRate: b.feeRate as number | undefined, passphrase: str(body, 'passphrase') })
      }
    }
  ]
}
