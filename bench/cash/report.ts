/** The ratio against the target and the printed table of `bench:cash`. */
import type { MachineInfo } from '../share/machine.ts'
import type { PreparedChain } from './blocks.ts'
import type { VerifyRate } from './crypto.ts'
import { MAX_FEE_RATE } from './flood.ts'
import type { FloodResult, FloodRound } from './flood.ts'
import type { PropagationResult } from './propagation.ts'
import { grouped } from './stats.ts'
import type { SyncResult } from './sync.ts'
import type { ValidationResult } from './validate.ts'

/** The issue's target: block validation (tx/s) at least this many times noble's verifications per second on one core. */
export const TARGET_B_OVER_A = 1.5

/** Everything one run measured (absent: not selected with --only). */
export interface CashResults {
  a?: { noble: VerifyRate, tiny: VerifyRate }
  b?: ValidationResult
  c?: SyncResult
  d?: PropagationResult
  e?: FloodResult
  /** Measurements that failed, by letter: the error's message. */
  errors?: Record<string, string>
  /** The prepared chains, by the measurement that used them. */
  prepared: Array<{ for: string, blocks: number, txsPerBlock: number, seconds: number, signatures: number, blockBytes: number, blockWeight: number, transactions?: number }>
}

/** A ratio of two rates, with its target if it has one. */
export interface Ratio {
  name: string
  value: number
  target?: number
  pass?: boolean
  note?: string
}

/** b/a (the target) and b/a' (information). */
export function ratios (r: CashResults): Ratio[] {
  if (r.a == null || r.b == null) return []
  const ba = r.b.txPerSecond / r.a.noble.perSecond
  return [
    { name: 'b/a', value: ba, target: TARGET_B_OVER_A, pass: ba >= TARGET_B_OVER_A, note: 'chain tx/s ÷ noble verify/s on one core' },
    { name: 'b/a\'', value: r.b.txPerSecond / r.a.tiny.perSecond, note: 'chain tx/s ÷ tiny-secp256k1 verify/s on one core (information)' }
  ]
}

/** A summary of a prepared chain, for {@link CashResults.prepared}. */
export function preparedSummary (what: string, p: PreparedChain): CashResults['prepared'][number] {
  return { for: what, blocks: p.full.length, txsPerBlock: p.txsPerBlock, seconds: p.seconds, signatures: p.signatures, blockBytes: p.blockBytes, blockWeight: p.blockWeight }
}

function others (bg: number | undefined): string {
  return bg == null ? '' : `; others used ${bg.toFixed(2)} cores`
}

function mib (bytes: number, digits = 0): string {
  return `${(bytes / 2 ** 20).toFixed(digits)}`
}

/** RSS before → highest sample → after, and the same of the V8 heap in use. */
function memoryNote (r: FloodRound): string {
  const m = r.memory
  return `RSS ${mib(m.rssBefore)} → ${mib(m.rssPeak)} → ${mib(m.rssAfter)} MiB (heap ${mib(m.heapBefore)} → ${mib(m.heapPeak)} → ${mib(m.heapAfter)})`
}

/** "33 × invalid tx: bad-txns-signature (+100)" and so on. */
function penalties (p: Record<string, { times: number, points: number }>): string {
  const list = Object.entries(p).map(([reason, { times, points }]) => `${grouped(times)} × ${reason} (+${Math.round(points / times)})`)
  return list.length > 0 ? list.join(', ') : 'no penalty logged'
}

/** The lines of (e): one per round. */
function floodRows (e: FloodResult, row: (key: string, name: string, value: string, notes: string) => void): void {
  const total = e.peers * e.txsPerPeer
  const clean = e.rounds.find(r => r.kind === 'clean')
  for (const r of e.rounds) {
    const waited = `up to ${grouped(r.maxWaiting)} messages waiting for the mempool`
    const closed = r.connectionsClosed > 0 ? `; ${r.connectionsClosed} connections closed` : ''
    const lost = r.undelivered.reduce((a, b) => a + b, 0)
    const undelivered = r.kind !== 'mixed' && lost > 0 ? `; ${grouped(lost)} publishes reached no peer` : ''
    const incomplete = r.complete || r.kind === 'mixed' ? '' : `; INCOMPLETE: ${grouped(r.validated)} of ${grouped(r.sent)} messages validated`
    if (r.kind === 'clean') {
      row('e', `mempool flood, ${e.peers} peers → 1 node`, `${grouped(r.txPerSecond)} tx/s`,
        `${grouped(r.accepted)} of ${grouped(r.sent)} txs accepted (1-in 2-out P2TR, ${e.messageBytes} B, 1–${MAX_FEE_RATE} units/vB) in ${r.seconds.toFixed(2)} s from the first publish ` +
        `(all published in ${r.publishSeconds.toFixed(2)} s); node's own mempool, ${mib(r.maxBytes)} MiB cap, ${mib(r.finalBytes, 1)} MiB (${grouped(r.finalSize)} entries of ${grouped(e.entryBytes)} B) at the end; ` +
        `${waited}; ${memoryNote(r)}${closed}${undelivered}${incomplete}${others(r.background)}`)
    } else if (r.kind === 'capped') {
      const o = r.outcomes ?? {}
      const full = o['mempool full'] ?? 0
      const otherReasons = Object.entries(o).filter(([k]) => k !== 'accepted' && k !== 'mempool full').map(([k, v]) => `${grouped(v)} ${k}`)
      row('', `capped at ${mib(r.maxBytes, 2)} MiB (bench-built mempool)`, `${grouped(r.txPerSecond)} tx/s`,
        `${grouped(r.accepted)} accepted, ${grouped(r.evicted)} of them evicted again by better fee rates, ${grouped(full)} refused 'mempool full'` +
        `${otherReasons.length > 0 ? ` (also ${otherReasons.join(', ')})` : ''}; ${grouped(r.validatedPerSecond)} messages validated/s; ` +
        `the flood's ${mib(total * e.entryBytes, 1)} MiB of entries is ${(total * e.entryBytes / r.maxBytes).toFixed(1)} × the cap; ` +
        `mempool peak ${grouped(r.peakBytes)} B ≤ ${grouped(r.maxBytes)} B: ${r.withinCap ? 'yes' : 'NO'}, ${grouped(r.finalSize)} entries at the end; ` +
        `${waited}; ${memoryNote(r)}${closed}${undelivered}${incomplete}${others(r.background)}`)
    } else if (r.mixed != null) {
      const x = r.mixed
      const bad = x.scores.filter(s => !s.honest)
      const honest = x.scores.filter(s => s.honest)
      const ratio = clean == null ? '' : `, ${(x.honestTxPerSecond / clean.txPerSecond).toFixed(2)} × clean`
      row('', `+ ${Math.round(100 * x.duplicatesSent / r.sent)}% duplicates, ${Math.round(100 * x.invalidSent / r.sent)}% invalid sigs`, `${grouped(x.honestTxPerSecond)} tx/s`,
        `honest txs${ratio}: ${grouped(x.honestAccepted)} of ${grouped(x.honestTxs)} accepted in ${x.honestSeconds.toFixed(2)} s from ${honest.length} honest peers, ` +
        `whose ${grouped(x.duplicatesSent)} duplicates were ignored (scores ${honest.map(s => s.score.toFixed(0)).join(', ')}` +
        `${honest.some(s => Object.keys(s.penalties).length > 0) ? `: ${honest.map(s => `peer ${s.sender}: ${penalties(s.penalties)}`).join('; ')}` : ''}); ` +
        `peer ${bad.map(s => s.sender).join(', ')} sent ${grouped(x.invalidSent)} invalid among ${grouped(x.badSent)}: ${grouped(r.rejected)} validated and rejected, ` +
        `score ${bad.map(s => s.score.toFixed(0)).join(', ')} (${bad.map(s => penalties(s.penalties)).join('; ')}), ${bad.every(s => s.banned) ? 'banned and disconnected' : 'NOT banned'}, ` +
        `${grouped(x.badAccepted)} of its valid txs accepted first, its last ${grouped(r.undelivered[r.undelivered.length - 1] ?? 0)} publishes reached no peer; ${grouped(r.ignored)} ignored, ${waited}; ${memoryNote(r)}${others(r.background)}`)
    }
  }
}

/** The report as lines of text: machine, one row per measurement, the ratios with PASS / FAIL. */
export function formatReport (machine: MachineInfo, r: CashResults, rs: Ratio[]): string[] {
  const lines = [
    'bench:cash — Schnorr verification, block validation, sync, block propagation and mempool flood (regtest, nodes in this process)',
    `date:    ${machine.date}; peerd at ${machine.commit}`,
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node.js ${machine.node}; load average ${machine.load} at the start`,
    ''
  ]
  const row = (key: string, name: string, value: string, notes: string): void => {
    lines.push(`${key.padEnd(4)}${name.padEnd(40)}${value.padStart(18)}  ${notes}`)
  }
  if (r.a != null) {
    const { noble, tiny } = r.a
    row('a', 'noble schnorr.verify, 1 core', `${grouped(noble.perSecond)} verify/s`, `@noble/curves (the tests' signer, test/utils/schnorr.ts); ${grouped(noble.verifications)} in ${noble.seconds.toFixed(1)} s${others(noble.background)}`)
    row('a\'', 'tiny-secp256k1 verifySchnorr, 1 core', `${grouped(tiny.perSecond)} verify/s`, `information: libsecp256k1 in WASM (src/cash/consensus/verify.ts, the chain's SigPool)${others(tiny.background)}`)
  }
  if (r.b != null) {
    const b = r.b
    const p = r.prepared.find(x => x.for.includes('b'))
    const shape = p == null ? '' : `, ${grouped(p.blockWeight)} WU, ${(p.blockBytes / 1e6).toFixed(2)} MB`
    row('b', 'Chain.addBlock, full blocks', `${grouped(b.txPerSecond)} tx/s`,
      `${b.blocks} blocks × ${grouped(b.txsPerBlock)} txs (1-in 2-out P2TR key path${shape}) in ${b.seconds.toFixed(2)} s; ` +
      `median ${(b.medianBlockMs / 1000).toFixed(2)} s a block, slowest ${(b.maxBlockMs / 1000).toFixed(2)} s; ` +
      `SigPool (${b.workers} workers) ${Math.round(100 * b.verifySeconds / b.seconds)}% of the time${others(b.background)}`)
  }
  if (r.c != null) {
    const c = r.c
    row('c', 'sync from 1 peer', `${c.blocksPerSecond.toFixed(2)} blocks/s`,
      `${c.fullBlocks} full blocks × ${grouped(c.txsPerBlock)} txs + ${c.setupBlocks} setup blocks = ${c.blocks} blocks, ` +
      `${grouped(c.txs)} txs, ${(c.bytes / 1e6).toFixed(1)} MB in ${c.seconds.toFixed(1)} s (dial to synced tip); ` +
      `${c.connectionsClosed} connections dropped${others(c.background)}`)
    row('', '', `${grouped(c.txPerSecond)} tx/s`, `the source node validated the same full blocks handed to it at ${grouped(c.fill.txPerSecond)} tx/s`)
  }
  if (r.d != null) {
    const d = r.d
    const max = Number.isFinite(d.maxMs) ? `max ${d.maxMs.toFixed(0)} ms` : `${d.incomplete} of ${d.blocks} blocks missed a node for 30 s`
    row('d', `propagation to all ${d.nodes} nodes`, `${d.medianMs.toFixed(0)} ms median`,
      `${max} over ${d.blocks} coinbase-only blocks; per node median ${d.medianNodeMs.toFixed(0)} ms; ` +
      `${d.edges} links (mean degree ${d.meanDegree.toFixed(1)})${d.settled ? '' : ', not settled'}; ${d.connectionsClosed} connections dropped meanwhile` +
      `${d.loopbackPenalty ? '; loopback IP penalty on' : ''}${others(d.background)}`)
  }
  if (r.e != null) floodRows(r.e, row)
  for (const [key, message] of Object.entries(r.errors ?? {})) row(key, 'FAILED', '', message)
  if (r.prepared.length > 0) {
    lines.push('')
    for (const p of r.prepared) {
      const what = p.transactions != null ? `${p.blocks} setup blocks and ${grouped(p.transactions)} txs` : `${p.blocks} blocks × ${grouped(p.txsPerBlock)} txs`
      lines.push(`prepared for ${p.for}: ${what}, ${grouped(p.signatures)} signatures in ${p.seconds.toFixed(1)} s (not timed)`)
    }
  }
  if (r.e != null) {
    lines.push('', 'bounds:')
    for (const x of r.e.rounds) {
      lines.push(`  e ${x.kind.padEnd(7)} mempool.bytes ≤ maxBytes: peak ${grouped(x.peakBytes)} of ${grouped(x.maxBytes)} B: ${x.withinCap ? 'PASS' : 'FAIL'}`)
    }
  }
  if (rs.length > 0) {
    lines.push('', 'ratios of rates:')
    for (const x of rs) {
      const verdict = x.target == null ? '' : `  target ≥ ${x.target}: ${x.pass === true ? 'PASS' : 'FAIL'}`
      lines.push(`  ${x.name.padEnd(6)}${x.value.toFixed(2).padStart(7)}${verdict}   (${x.note ?? ''})`)
    }
  }
  return lines
}
