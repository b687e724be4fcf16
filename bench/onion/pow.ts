/**
 * What the onion-service puzzle (src/onion/hs/pow.ts) costs: for each effort level, the median
 * (and 90th percentile) time and hashes a client needs to solve it, and the time a service needs
 * to verify one proof. So the docs can say what a suggested effort E asks of a client (expected
 * work: E hashes; the number of hashes is geometric, so the median is about 0.69 E and the 90th
 * percentile 2.3 E) and what checking a flood of proofs costs the service.
 *
 *     npx node bench/onion/pow.ts [--runs 21] [--efforts 1,1000,10000,100000,1000000] [--json]
 * @module
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { solvePow, verifyPow } from '../../src/onion/hs/pow.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '21' },
    efforts: { type: 'string', default: '1,1000,10000,100000,1000000' },
    verifies: { type: 'string', default: '20000' },
    json: { type: 'boolean', default: false }
  }
})
const runs = Number(values.runs)
const efforts = values.efforts.split(',').map(Number)
const verifies = Number(values.verifies)

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}

interface Row { effort: number, medianMs: number, p90Ms: number, meanMs: number, meanHashes: number, usPerHash: number, cpuUsPerHash: number }

const servicePub = randomBytes(32)
const seed = randomBytes(32)
await solvePow({ seed, servicePub, effort: 10_000 }) // warm-up: the first calls compile the loop
const rows: Row[] = []
for (const effort of efforts) {
  const ms: number[] = []
  let hashes = 0
  // CPU time beside wall time: on a shared machine it is the figure that says what the work costs
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const sol = await solvePow({ seed, servicePub, effort })
    ms.push(performance.now() - t0)
    hashes += sol.attempts
  }
  const cpu = process.cpuUsage(cpu0)
  const total = ms.reduce((a, b) => a + b, 0)
  rows.push({ effort, medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9), meanMs: total / runs, meanHashes: hashes / runs, usPerHash: total * 1000 / hashes, cpuUsPerHash: (cpu.user + cpu.system) / hashes })
}

// verification of valid proofs (the service's cost per INTRODUCE carrying one)
const proofs = await Promise.all(Array.from({ length: 64 }, async () => await solvePow({ seed, servicePub, effort: 1000 })))
const t0 = performance.now()
const vcpu0 = process.cpuUsage()
let ok = 0
for (let i = 0; i < verifies; i++) {
  const p = proofs[i % proofs.length] as (typeof proofs)[number]
  if (verifyPow({ seed, servicePub, nonce: p.nonce, effort: p.effort })) ok++
}
const verifyUs = (performance.now() - t0) * 1000 / verifies
const vcpu = process.cpuUsage(vcpu0)
const verifyCpuUs = (vcpu.user + vcpu.system) / verifies
if (ok !== verifies) throw new Error(`${verifies - ok} valid proofs failed to verify`)

if (values.json) {
  console.log(JSON.stringify({ runs, solve: rows, verifyUs, verifyCpuUs }, null, 2))
} else {
  console.log(`onion-service puzzle (blake2b-512, R × E ≤ 2^32 − 1), ${runs} solves per effort, node ${process.version}`)
  console.log('effort'.padStart(10) + 'median ms'.padStart(12) + 'p90 ms'.padStart(10) + 'mean ms'.padStart(10) + 'mean hashes'.padStart(14) + 'µs/hash'.padStart(10) + 'cpu µs/hash'.padStart(13))
  for (const r of rows) {
    console.log(String(r.effort).padStart(10) + r.medianMs.toFixed(2).padStart(12) + r.p90Ms.toFixed(2).padStart(10) + r.meanMs.toFixed(2).padStart(10) + r.meanHashes.toFixed(0).padStart(14) + r.usPerHash.toFixed(2).padStart(10) + r.cpuUsPerHash.toFixed(2).padStart(13))
  }
  console.log(`verify: ${verifyUs.toFixed(2)} µs per proof, ${verifyCpuUs.toFixed(2)} µs of CPU (${verifies} proofs)`)
}
