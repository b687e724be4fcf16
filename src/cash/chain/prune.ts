/**
 * Side-branch pruning: side blocks take at most what reorganisations within `maxReorgDepth`
 * need, whatever a peer stored on cheap forks long ago.
 * @module
 */
import { ops } from './chain-db.ts'
import type { ChainState } from './chain-state.ts'

/**
 * Deletes the side branches that leave the best chain more than `maxReorgDepth` blocks below
 * the tip (entries, bodies, undo data; one batch, whole subtrees): the chain refuses a
 * reorganisation to them anyway, and a branch that grows heavier is fetched again by its
 * headers.
 */
export async function pruneStale (s: ChainState): Promise<void> {
  const stale = s.index.staleSide(s.params.maxReorgDepth)
  if (stale.length === 0) return
  await s.db.write(stale.flatMap(e => [ops.delEntry(e.hash), ops.delBlock(e.hash), ops.delUndo(e.hash)]))
  for (const e of stale.reverse()) s.index.remove(e)
  s.log.debug('stale side blocks pruned', { count: stale.length, tip: s.tip().height })
}
