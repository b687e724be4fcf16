/**
 * (d) Block propagation: in-process regtest nodes on loopback joined in a sparse random graph
 * (each dials ~3 others, one of them an earlier node so the graph is connected). Once every
 * node's gossipsub mesh on the blocks topic has formed, blocks are mined one at a time on a
 * random node (`node.cash.mine(1, address)`, coinbase-only blocks) and each node's chain
 * 'tip' event is timestamped: propagation = the last node's tip time − the miner's own.
 *
 * Keeping the graph as dialled takes some care. A node also dials every peer its DHT tells it
 * of, which would link 20 local nodes nearly all to all: the nodes run with `minConnections: 0`
 * (no DHT walk for more peers), and the benchmark disconnects every link it did not dial
 * (`node.disconnect`, which also bars the peer for ten minutes). And libp2p's connection monitor
 * aborts some new connections at its first ping (see `dial` in scope.ts): the benchmark redials
 * those. It measures once nothing has changed for 12 s, and counts the connections that drop
 * while it measures.
 *
 * The nodes are scored as if on distinct hosts: 127.0.0.1 is added to each node's gossipsub
 * IP-colocation whitelist. Gossipsub's default peer score takes −5 × (peers seen on one IP − 10)²
 * from every peer once a node has seen more than 10 peers on an IP (disconnected ones count for
 * as long as their score is retained, an hour). Left alone, 20 local nodes reach 11–18 peers
 * each, score every peer negative (below the −80 graylist from 14 on), keep empty meshes and
 * stop spreading blocks by gossip. With the graph trimmed early, as here, few nodes see more
 * than 10 peers, so `--loopback-penalty` (no whitelist) usually changes little; the whitelist
 * keeps the measurement from depending on it.
 */
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { backgroundCores, cpuSnapshot } from '../share/cpu.ts'
import { BENCH_KEYS } from './blocks.ts'
import type { BenchKey } from './blocks.ts'
import { countCloses, dial } from './scope.ts'
import type { Scope } from './scope.ts'
import { median, seeded } from './stats.ts'

/** What (d) measured. */
export interface PropagationResult {
  nodes: number
  /** Links the benchmark dialled, and the mean degree they give. */
  edges: number
  meanDegree: number
  /** Connections (distinct peer pairs) when the first block was mined, and links not dialled by the benchmark still open at the end. */
  connections: number
  extraAtEnd: number
  /** Connections closed while the blocks were mined (both ends count one; 0 expected). */
  connectionsClosed: number
  /** Whether gossipsub's IP colocation penalty applied to 127.0.0.1 (`--loopback-penalty`). */
  loopbackPenalty: boolean
  /** Time the graph took to settle (links trimmed and redialled, see the code), whether it did, and what that took. */
  settleSeconds: number
  settled: boolean
  trimmed: number
  redialled: number
  /** Time from the settled graph until every mesh had formed. */
  meshSeconds: number
  blocks: number
  /** Per block that reached every node: ms from the miner's tip to the last node's. */
  toAllMs: number[]
  /** Blocks that had not reached every node after 30 s. */
  incomplete: number
  medianMs: number
  /** Infinity when a block did not reach every node. */
  maxMs: number
  /** Median over every (block, node) pair of the arrival time, ms. */
  medianNodeMs: number
  background?: number
}

const DIALS = 3
const BLOCK_TIMEOUT_MS = 30_000
const SETTLE_LIMIT_MS = 150_000
const GOSSIP_D_LO = 4 // gossipsub's default lower bound of a mesh

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Lets gossipsub score peers on 127.0.0.1 as if each were on its own host (see the module comment). */
function whitelistLoopback (node: PeerdNode): void {
  const impl = node.libp2p.services.pubsub as unknown as { score?: { params?: { IPColocationFactorWhitelist?: Set<string> } } }
  const params = impl.score?.params
  if (params?.IPColocationFactorWhitelist == null) throw new Error('this gossipsub has no IPColocationFactorWhitelist to add 127.0.0.1 to')
  // a new set: the default one is shared by every gossipsub instance of the process
  params.IPColocationFactorWhitelist = new Set([...params.IPColocationFactorWhitelist, '127.0.0.1'])
}

/** How many peers gossipsub's score counts on 127.0.0.1 (connected or retained), for diagnostics. */
function loopbackPeersScored (node: PeerdNode): number | undefined {
  const impl = node.libp2p.services.pubsub as unknown as { score?: { peerIPs?: Map<string, Set<string>> } }
  return impl.score?.peerIPs?.get('127.0.0.1')?.size
}

function connected (a: PeerdNode, b: PeerdNode): boolean {
  return a.libp2p.getConnections(b.libp2p.peerId).some(c => c.status === 'open')
}

/** The peers in this node's mesh on `topic`: the implementation has it, gossipsub's public interface does not. */
function meshPeers (pubsub: PeerdNode['libp2p']['services']['pubsub'], topic: string): string[] {
  const impl = pubsub as unknown as { getMeshPeers?: (topic: string) => string[] }
  if (typeof impl.getMeshPeers !== 'function') throw new Error('this gossipsub has no getMeshPeers: cannot tell when the meshes have formed')
  return impl.getMeshPeers(topic)
}

/** Every node's mesh holds its subscribed peers up to gossipsub's D_lo, and the mesh graph is connected. */
function meshesFormed (nodes: PeerdNode[], topic: string): boolean {
  const index = new Map(nodes.map((n, i) => [n.peerId, i]))
  const adj: number[][] = nodes.map(() => [])
  for (const [i, n] of nodes.entries()) {
    const pubsub = n.libp2p.services.pubsub
    const mesh = meshPeers(pubsub, topic)
    const subs = pubsub.getSubscribers(topic).length
    if (mesh.length < Math.min(subs, GOSSIP_D_LO)) return false
    for (const p of mesh) {
      const j = index.get(p)
      if (j !== undefined) { (adj[i] as number[]).push(j); (adj[j] as number[]).push(i) }
    }
  }
  const seen = new Set([0])
  const todo = [0]
  while (todo.length > 0) for (const j of adj[todo.pop() as number] as number[]) if (!seen.has(j)) { seen.add(j); todo.push(j) }
  return seen.size === nodes.length
}

/** The peer ids each node should be linked to: its own dials and the nodes that dial it. */
function edgeSets (nodes: PeerdNode[], targets: number[][]): Array<Set<string>> {
  const want = nodes.map(() => new Set<string>())
  targets.forEach((ts, i) => {
    for (const j of ts) {
      (want[i] as Set<string>).add((nodes[j] as PeerdNode).peerId)
      ;(want[j] as Set<string>).add((nodes[i] as PeerdNode).peerId)
    }
  })
  return want
}

/** The graph's links [dialler, target] that are not connected now (all of them at first). */
function missingLinks (nodes: PeerdNode[], targets: number[][]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  targets.forEach((ts, i) => {
    for (const j of ts) if (!connected(nodes[i] as PeerdNode, nodes[j] as PeerdNode)) out.push([i, j])
  })
  return out
}

/** Disconnects (and so bars for ten minutes) every peer a node found by itself; returns how many. */
async function trim (nodes: PeerdNode[], want: Array<Set<string>>): Promise<number> {
  let n = 0
  for (const [i, node] of nodes.entries()) {
    for (const p of node.peers()) {
      if (!(want[i] as Set<string>).has(p.peerId)) {
        await node.disconnect(p.peerId).catch(() => false)
        n++
      }
    }
  }
  return n
}

/** Starts `count` nodes, links them, waits for the meshes, then times `blocks` blocks reaching all of them. */
export async function measurePropagation (scope: Scope, count: number, blocks: number, options: { loopbackPenalty: boolean }, log: (s: string) => void): Promise<PropagationResult> {
  const rand = seeded(1)
  const t0 = performance.now()
  const nodes = await Promise.all(Array.from({ length: count }, async (_, i) => await scope.node(`p${i}`, { minConnections: 0 })))
  if (!options.loopbackPenalty) nodes.forEach(whitelistLoopback)
  log(`  ${count} nodes started in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const targets = nodes.map((_, i) => {
    const set = new Set<number>()
    if (i > 0) set.add(rand(i))
    while (set.size < Math.min(DIALS, count - 1)) {
      const j = rand(count)
      if (j !== i) set.add(j)
    }
    return [...set]
  })
  const want = edgeSets(nodes, targets)
  const edges = want.reduce((s, w) => s + w.size, 0) / 2
  const t1 = performance.now()
  // Settle the graph: the nodes dial the peers their DHT tells them of (cut those links), and
  // libp2p's connection monitor aborts some new connections at its first ping (see `dial` in
  // scope.ts; redial those), until nothing has changed for more than a heartbeat (10 s).
  let trimmed = 0
  let redialled = 0
  let settled = false
  for (let pass = 0, quietSince = performance.now(); performance.now() - t1 < SETTLE_LIMIT_MS; pass++) {
    const missing = missingLinks(nodes, targets)
    await Promise.all(missing.map(async ([i, j]) => { await dial(nodes[i] as PeerdNode, nodes[j] as PeerdNode).catch(() => {}) }))
    const cut = await trim(nodes, want)
    if (missing.length + cut > 0) quietSince = performance.now()
    if (pass > 0) redialled += missing.length
    trimmed += cut
    if (performance.now() - quietSince > 12_000) { settled = true; break }
    await sleep(500)
  }
  const settleSeconds = (performance.now() - t1) / 1000
  if (!settled) log(`  warning: links still dropping after ${SETTLE_LIMIT_MS / 1000} s; measuring anyway`)
  const topic = blocksTopic('regtest')
  const deadline = Date.now() + 60_000
  while (!meshesFormed(nodes, topic)) {
    if (Date.now() > deadline) {
      const state = nodes.map((n, i) => `${i}: ${n.libp2p.getPeers().length}/${n.libp2p.services.pubsub.getSubscribers(topic).length}/` +
        `${meshPeers(n.libp2p.services.pubsub, topic).length}/${loopbackPeersScored(n) ?? '?'}`)
      throw new Error('the gossipsub meshes did not form within 60 s ' +
        `(node: peers/subscribed/mesh/peers gossipsub counts on 127.0.0.1 ${state.join(', ')})`)
    }
    await sleep(100)
  }
  const meshSeconds = (performance.now() - t1) / 1000 - settleSeconds
  await sleep(1_500) // a heartbeat more, for the meshes to settle
  const connections = countConnections(nodes)
  log(`  ${edges} links dialled (mean degree ${(2 * edges / count).toFixed(1)}); in ${settleSeconds.toFixed(0)} s ${trimmed} self-found links cut, ` +
    `${redialled} dropped links redialled; ${connections} peer pairs connected; meshes formed ${meshSeconds.toFixed(1)} s later`)
  const closes = nodes.map(countCloses)

  const seen = nodes.map(() => new Map<string, number>())
  const listeners = nodes.map((node, i) => {
    const onTip = (entry: { hash: Uint8Array }): void => { (seen[i] as Map<string, number>).set(hashToHex(entry.hash), performance.now()) }
    node.cash.chain.on('tip', onTip)
    return onTip
  })
  const address = encodeAddress('pdrt', (BENCH_KEYS[0] as BenchKey).pubkey)
  const toAllMs: number[] = []
  const arrivals: number[] = []
  let incomplete = 0
  const cpu0 = cpuSnapshot([])
  try {
    for (let k = 0; k < blocks; k++) {
      const m = rand(count)
      const [hash] = await (nodes[m] as PeerdNode).cash.mine(1, address)
      if (hash === undefined) throw new Error('mine returned no block')
      const until = Date.now() + BLOCK_TIMEOUT_MS
      while (!seen.every(s => s.has(hash)) && Date.now() < until) await sleep(10)
      const start = (seen[m] as Map<string, number>).get(hash) as number
      const times = seen.map(s => s.has(hash) ? (s.get(hash) as number) - start : Infinity)
      for (const [i, t] of times.entries()) if (i !== m && Number.isFinite(t)) arrivals.push(t)
      const worst = Math.max(...times)
      const last = times.indexOf(worst)
      if (Number.isFinite(worst)) {
        toAllMs.push(worst)
        log(`  block ${k + 1}/${blocks} from node ${m}: all ${count} nodes in ${worst.toFixed(0)} ms (last: node ${last})`)
      } else {
        incomplete++
        log(`  block ${k + 1}/${blocks} from node ${m}: reached ${times.filter(Number.isFinite).length} of ${count} nodes in ${BLOCK_TIMEOUT_MS / 1000} s`)
        // let the stragglers catch up (sync) before the next block
        const catchUp = Date.now() + BLOCK_TIMEOUT_MS
        while (!seen.every(s => s.has(hash)) && Date.now() < catchUp) await sleep(100)
      }
      await sleep(500)
    }
  } finally {
    nodes.forEach((node, i) => { node.cash.chain.off('tip', listeners[i] as (entry: { hash: Uint8Array }) => void) })
  }
  const bg = backgroundCores(cpu0, cpuSnapshot([]))
  for (const c of closes) c.stop()
  const closed = closes.reduce((sum, c) => sum + c.count(), 0) / 2
  const extra = nodes.reduce((s, n, i) => s + n.peers().filter(p => !(want[i] as Set<string>).has(p.peerId)).length, 0) / 2
  await Promise.all(nodes.map(async n => { await scope.stop(n) }))
  const r: PropagationResult = {
    nodes: count,
    edges,
    meanDegree: 2 * edges / count,
    connections,
    extraAtEnd: extra,
    connectionsClosed: closed,
    loopbackPenalty: options.loopbackPenalty,
    settleSeconds,
    settled,
    trimmed,
    redialled,
    meshSeconds,
    blocks,
    toAllMs,
    incomplete,
    medianMs: toAllMs.length > 0 ? median(toAllMs) : NaN,
    maxMs: incomplete > 0 ? Infinity : Math.max(...toAllMs),
    medianNodeMs: arrivals.length > 0 ? median(arrivals) : NaN
  }
  if (bg !== undefined) r.background = bg
  return r
}

function countConnections (nodes: PeerdNode[]): number {
  return nodes.reduce((s, n) => s + n.libp2p.getPeers().length, 0) / 2
}
