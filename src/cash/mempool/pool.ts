/**
 * The mempool's transaction graph: entries by txid, the outpoints they spend, parent/child
 * links between them, and per entry the totals of its in-mempool ancestors and descendants
 * (itself included), kept exact on every insert and removal. Chain limits
 * ({@link DEFAULT_MAX_CHAIN}) keep every walk here short. No validation, no events.
 * @module
 */
import type { OutPoint } from '../primitives/tx.ts'
import type { MempoolEntry } from './policy.ts'

/**
 * Hex of a hash in internal order: the key of an entry. Built in one piece: a string grown
 * by `+=` is a rope in V8 and costs over a kilobyte for as long as a map keeps it.
 */
export function hexKey (hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex')
}

/** Key of an outpoint in the mempool's maps and sets: txid {@link hexKey} + ':' + index. */
export function outKey (prevout: OutPoint): string {
  return `${hexKey(prevout.txid)}:${prevout.index}`
}

/** An entry in the graph with its links and package totals. */
export interface PoolNode {
  readonly entry: MempoolEntry
  /** {@link hexKey} of the txid. */
  readonly key: string
  /** Insertion sequence: older first on ties. */
  readonly seq: number
  readonly parents: Set<PoolNode>
  readonly children: Set<PoolNode>
  /** In-mempool ancestors including itself: count, fees, vsize, weight. */
  ancCount: number
  ancFee: bigint
  ancVsize: number
  ancWeight: number
  /** In-mempool descendants including itself: count, fees, vsize. */
  descCount: number
  descFee: bigint
  descVsize: number
}

/** Entries, spends and links. */
export class TxGraph {
  readonly nodes = new Map<string, PoolNode>()
  /** {@link outKey} → the node spending it. */
  readonly spends = new Map<string, PoolNode>()
  /** Sum of the entries' memory estimates. */
  bytes = 0
  private seq = 0

  get size (): number { return this.nodes.size }

  get (key: string): PoolNode | undefined { return this.nodes.get(key) }

  /** Every in-graph ancestor of a node with these parents (the parents included). */
  ancestorsOf (parents: Iterable<PoolNode>): Set<PoolNode> {
    const out = new Set<PoolNode>()
    const todo = [...parents]
    for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
      if (out.has(n)) continue
      out.add(n)
      for (const p of n.parents) todo.push(p)
    }
    return out
  }

  /** Every in-graph descendant of `node` (not itself). */
  descendantsOf (node: PoolNode): Set<PoolNode> {
    const out = new Set<PoolNode>()
    const todo = [...node.children]
    for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
      if (out.has(n)) continue
      out.add(n)
      for (const c of n.children) todo.push(c)
    }
    return out
  }

  /** Adds an entry whose in-graph parents and all ancestors the caller has found. */
  insert (entry: MempoolEntry, parents: Set<PoolNode>, ancestors: Set<PoolNode>): PoolNode {
    const node: PoolNode = {
      entry,
      key: hexKey(entry.txid),
      seq: this.seq++,
      parents,
      children: new Set(),
      ancCount: 1,
      ancFee: entry.fee,
      ancVsize: entry.vsize,
      ancWeight: entry.weight,
      descCount: 1,
      descFee: entry.fee,
      descVsize: entry.vsize
    }
    for (const a of ancestors) {
      node.ancCount++
      node.ancFee += a.entry.fee
      node.ancVsize += a.entry.vsize
      node.ancWeight += a.entry.weight
      a.descCount++
      a.descFee += entry.fee
      a.descVsize += entry.vsize
    }
    for (const p of parents) p.children.add(node)
    for (const input of entry.tx.inputs) this.spends.set(outKey(input.prevout), node)
    this.nodes.set(node.key, node)
    this.bytes += entry.bytes
    return node
  }

  /**
   * Removes one node, keeping the others' totals exact. Meant for a node without descendants
   * (eviction, conflicts: leaves first) or without ancestors (confirmed in a block); anything
   * else is recomputed from scratch for the nodes around it.
   */
  remove (node: PoolNode): void {
    const { entry } = node
    const ancestors = this.ancestorsOf(node.parents)
    const descendants = this.descendantsOf(node)
    for (const p of node.parents) p.children.delete(node)
    for (const c of node.children) c.parents.delete(node)
    for (const input of entry.tx.inputs) {
      const key = outKey(input.prevout)
      if (this.spends.get(key) === node) this.spends.delete(key)
    }
    this.nodes.delete(node.key)
    this.bytes -= entry.bytes
    if (ancestors.size > 0 && descendants.size > 0) {
      for (const n of [...ancestors, ...descendants]) this.recompute(n)
      return
    }
    for (const a of ancestors) {
      a.descCount--
      a.descFee -= entry.fee
      a.descVsize -= entry.vsize
    }
    for (const d of descendants) {
      d.ancCount--
      d.ancFee -= entry.fee
      d.ancVsize -= entry.vsize
      d.ancWeight -= entry.weight
    }
  }

  /** Removes `node` and all its descendants, children first; returns them parents first. */
  removeWithDescendants (node: PoolNode): PoolNode[] {
    const all = [node, ...this.descendantsOf(node)].sort(topoCompare)
    for (let i = all.length - 1; i >= 0; i--) this.remove(all[i] as PoolNode)
    return all
  }

  /** Every node, parents before children. */
  topoOrder (): PoolNode[] {
    return [...this.nodes.values()].sort(topoCompare)
  }

  /** Drops everything; returns the nodes parents first. */
  clear (): PoolNode[] {
    const all = this.topoOrder()
    this.nodes.clear()
    this.spends.clear()
    this.bytes = 0
    return all
  }

  private recompute (n: PoolNode): void {
    const anc = this.ancestorsOf(n.parents)
    const desc = this.descendantsOf(n)
    n.ancCount = 1 + anc.size
    n.ancFee = n.entry.fee
    n.ancVsize = n.entry.vsize
    n.ancWeight = n.entry.weight
    for (const a of anc) {
      n.ancFee += a.entry.fee
      n.ancVsize += a.entry.vsize
      n.ancWeight += a.entry.weight
    }
    n.descCount = 1 + desc.size
    n.descFee = n.entry.fee
    n.descVsize = n.entry.vsize
    for (const d of desc) {
      n.descFee += d.entry.fee
      n.descVsize += d.entry.vsize
    }
  }
}

/**
 * Parents before children: an ancestor set is a strict subset of each descendant's, so fewer
 * ancestors sort first; older first among equals.
 */
export function topoCompare (a: PoolNode, b: PoolNode): number {
  return a.ancCount - b.ancCount || a.seq - b.seq
}

/**
 * Core's descendant score, by which the cheapest go first when the mempool is full: the
 * higher of the entry's own fee rate and that of it with its descendants.
 */
export function evictionScore (n: PoolNode): number {
  return Math.max(n.entry.feeRate, Number(n.descFee) / n.descVsize)
}

/** `entries` reordered so that every transaction follows the ones it spends from. */
export function sortParentsFirst (entries: readonly MempoolEntry[]): MempoolEntry[] {
  const byKey = new Map(entries.map((e) => [hexKey(e.txid), e]))
  const done = new Set<string>()
  const out: MempoolEntry[] = []
  const visit = (key: string, e: MempoolEntry): void => {
    if (done.has(key)) return
    done.add(key)
    for (const input of e.tx.inputs) {
      const pk = hexKey(input.prevout.txid)
      const parent = byKey.get(pk)
      if (parent !== undefined) visit(pk, parent)
    }
    out.push(e)
  }
  for (const [key, e] of byKey) visit(key, e)
  return out
}
