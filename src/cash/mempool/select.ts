/**
 * Block template selection (Bitcoin Core's ancestor-package algorithm, simplified): take the
 * entry whose package, it plus its not yet selected in-mempool ancestors, pays the highest
 * fee rate; add the package parents first; lower its descendants' packages by what was
 * taken; repeat while weight remains. A child paying for its parent (CPFP) lifts both.
 * @module
 */
import type { PoolNode } from './pool.ts'
import { topoCompare } from './pool.ts'

/** What {@link selectPackages} picked. */
export interface Selection {
  /** Parents before children. */
  nodes: PoolNode[]
  fees: bigint
  weight: number
  /** Fee rate of the cheapest package taken (Infinity when none). */
  minRate: number
  /** True when some package was left out for lack of room. */
  full: boolean
}

interface Pkg { fee: number, vsize: number, weight: number, version: number }
interface HeapItem { node: PoolNode, rate: number, version: number }

/** Higher rate first; older entries first among equals. */
function before (a: HeapItem, b: HeapItem): boolean {
  return a.rate > b.rate || (a.rate === b.rate && a.node.seq < b.node.seq)
}

/** A binary max-heap of package rates with lazy invalidation (stale versions are skipped). */
class RateHeap {
  private readonly items: HeapItem[] = []
  get size (): number { return this.items.length }

  push (item: HeapItem): void {
    const a = this.items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i] as HeapItem, a[p] as HeapItem)) break
      ;[a[i], a[p]] = [a[p] as HeapItem, a[i] as HeapItem]
      i = p
    }
  }

  pop (): HeapItem | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    a[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < a.length && before(a[l] as HeapItem, a[m] as HeapItem)) m = l
      if (r < a.length && before(a[r] as HeapItem, a[m] as HeapItem)) m = r
      if (m === i) break
      ;[a[i], a[m]] = [a[m] as HeapItem, a[i] as HeapItem]
      i = m
    }
    return top
  }
}

/**
 * Picks packages by ancestor fee rate within `budget` weight units.
 *
 * @param nodes - the whole graph (every in-mempool ancestor of a node must be among them)
 */
export function selectPackages (nodes: Iterable<PoolNode>, budget: number): Selection {
  const pkgs = new Map<PoolNode, Pkg>()
  const heap = new RateHeap()
  for (const node of nodes) {
    const pkg = { fee: Number(node.ancFee), vsize: node.ancVsize, weight: node.ancWeight, version: 0 }
    pkgs.set(node, pkg)
    heap.push({ node, rate: pkg.fee / pkg.vsize, version: 0 })
  }
  const taken = new Set<PoolNode>()
  const out: Selection = { nodes: [], fees: 0n, weight: 0, minRate: Infinity, full: false }
  for (let item = heap.pop(); item !== undefined; item = heap.pop()) {
    const { node } = item
    const pkg = pkgs.get(node) as Pkg
    if (taken.has(node) || item.version !== pkg.version) continue
    if (out.weight + pkg.weight > budget) {
      out.full = true
      continue
    }
    out.minRate = Math.min(out.minRate, item.rate)
    const members = [node]
    const todo = [...node.parents]
    for (let a = todo.pop(); a !== undefined; a = todo.pop()) {
      if (taken.has(a) || members.includes(a)) continue
      members.push(a)
      for (const p of a.parents) todo.push(p)
    }
    members.sort(topoCompare)
    for (const m of members) {
      taken.add(m)
      out.nodes.push(m)
      out.fees += m.entry.fee
      out.weight += m.entry.weight
    }
    // Each descendant's package no longer includes the members just taken.
    for (const m of members) {
      const seen = new Set<PoolNode>()
      const down = [...m.children]
      for (let d = down.pop(); d !== undefined; d = down.pop()) {
        if (seen.has(d)) continue
        seen.add(d)
        for (const c of d.children) down.push(c)
        if (taken.has(d)) continue
        const dp = pkgs.get(d)
        if (dp === undefined) continue
        dp.fee -= Number(m.entry.fee)
        dp.vsize -= m.entry.vsize
        dp.weight -= m.entry.weight
        dp.version++
        heap.push({ node: d, rate: dp.fee / dp.vsize, version: dp.version })
      }
    }
  }
  return out
}
