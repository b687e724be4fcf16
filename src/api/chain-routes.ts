/**
 * Chain routes of the API: chain info, a block by hash or height, a transaction by txid, and
 * on-demand mining (regtest).
 */
import { InvalidArgumentError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import type { Route } from './router.ts'
import type { Block, ChainInfo, Tx } from './types.ts'

function requiredParam (url: URL, name: string): string {
  const v = url.searchParams.get(name)
  if (v == null || v === '') throw new InvalidArgumentError(`query parameter "${name}" is required`)
  return v
}

/** The chain routes. */
export function chainRoutes (node: PeerdNode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/chain/info',
      handler: async () => node.cash.info() satisfies ChainInfo
    },
    {
      method: 'GET',
      path: '/api/v1/chain/block',
      handler: async ({ url }) => await node.cash.block(requiredParam(url, 'id')) satisfies Block
    },
    {
      method: 'GET',
      path: '/api/v1/chain/tx',
      handler: async ({ url }) => await node.cash.tx(requiredParam(url, 'txid')) satisfies Tx
    },
    {
      method: 'POST',
      path: '/api/v1/mine',
      handler: async ({ body }) => {
        const b = (body ?? {}) as { blocks?: unknown, address?: unknown }
        if (typeof b.blocks !== 'number') throw new InvalidArgumentError('request body must be a JSON object with a number "blocks"')
        if (b.address != null && (typeof b.address !== 'string' || b.address === '')) throw new InvalidArgumentError('"address" must be a non-empty string')
        return { blocks: await node.cash.mine(b.blocks, b.address as string | undefined) }
      }
    }
  ]
}
