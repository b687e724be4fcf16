/** The ratio against the target and the printed table of `bench:cash`. */
import type { MachineInfo } from '../share/machine.ts'
import type { PreparedChain } from './blocks.ts'
import type { VerifyRate } from './crypto.ts'
import type { PropagationResult } from './propagation.ts'
import { grouped } from './stats.ts'
import type { SyncResult } from './sync.ts'
import type { ValidationResult } from './validate.ts'

/** The target: block validation (tx/s) at least this many times noble's verifications per second on one core. */
export const TARGET_B_OVER_A = 1.5

/** Everything one run measured (absent: not selected with --only). */
export interface CashResults {
  a?: { noble: VerifyRate, tiny: VerifyRate }
  b?: ValidationResult
  c?: SyncResult
  d?: PropagationResult
  /** Measurements that failed, by letter: the error's message. */
  errors?: Record<string, string>
  /** The prepared chains, by the measurement that used them. */
  prepared: Array<{ for: string, blocks: number, txsPerBlock: number, seconds: number, signatures: number, blockBytes: number, blockWeight: number }>
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

/** The report as lines of text: machine, one row per measurement, the ratios with PASS / FAIL. */
export function formatReport (machine: MachineInfo, r: CashResults, rs: Ratio[]): string[] {
  const lines = [
    'bench:cash — Schnorr verification, block validation, sync and block propagation (regtest, nodes in this process)',
    `date:    ${machine.date}; peerd at ${machine.commit}`,
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node.js ${machine.node}; load average ${machine.load} at the start`,
    ''
  ]
  const row = (key: string, name: string, value: string, notes: string): void => {
    lines.push(`${key.padEnd(4)}${name.padEnd(40)}${value.padStart(18)}  ${notes}`)
  }
  if (r.a != null) {
    const { noble, tiny } = r.a
    row('a', 'noble schnorr.verify, 1 core', `${grouped(noble.perSecond)} verify/s`, `@noble/curves (src/cash/primitives/schnorr.ts); ${grouped(noble.verifications)} in ${noble.seconds.toFixed(1)} s${others(noble.background)}`)
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
  for (const [key, message] of Object.entries(r.errors ?? {})) row(key, 'FAILED', '', message)
  if (r.prepared.length > 0) {
    lines.push('')
    for (const p of r.prepared) {
      lines.push(`prepared for ${p.for}: ${p.blocks} blocks × ${grouped(p.txsPerBlock)} txs, ${grouped(p.signatures)} signatures in ${p.seconds.toFixed(1)} s (not timed)`)
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
