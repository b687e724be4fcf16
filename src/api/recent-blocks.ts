/**
 * The last blocks of the best chain, summarised for the dashboard (the recent blocks list and
 * the difficulty chart) and for `GET /api/v1/chain/blocks`. Walks back from the tip by previous
 * hash, so a cache keyed by hash stays right across reorganisations and only new blocks are read.
 * @module
 */
import type { CashService } from '../cash/service.ts'
import type { BlockSummary } from './types.ts'

/**
 * Up to `count` blocks ending at `tip` (a block hash), newest first. `cache` (by hash) is read
 * and replaced by the blocks returned.
 */
export async function recentBlocks (cash: CashService, tip: string, count: number, cache = new Map<string, BlockSummary>()): Promise<BlockSummary[]> {
  const out: BlockSummary[] = []
  let id = tip
  while (out.length < count) {
    let b = cache.get(id)
    if (b == null) {
      const full = await cash.block(id)
      b = { hash: full.hash, prevHash: full.prevHash, height: full.height, time: full.time, difficulty: full.difficulty, txCount: full.txCount, size: full.size, weight: full.weight }
    }
    out.push(b)
    if (b.height === 0) break
    id = b.prevHash
  }
  cache.clear()
  for (const b of out) cache.set(b.hash, b)
  return out
}
