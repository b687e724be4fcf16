/**
 * Scenario 4, partition and heal (cash): 6 regtest hosts, every one with a wallet. Host 1 mines
 * 12 blocks (regtest coinbase maturity: 10) and pays host 4 before the split, so both sides have
 * coins; the network is split 3 / 3; on side A host 1 pays host 2 and mines 3 blocks, on side B
 * host 4 pays host 5 and mines 5 blocks; then the partition heals. Measures the time until every
 * host reports the same tip, then mines until every mempool is empty (the payments of the
 * losing side go back to the mempool and are confirmed again) and checks that no coins were
 * created or lost: the sum of every wallet's confirmed + unconfirmed + immature equals the
 * subsidy of the best chain (every block here is mined to a wallet; fees only move between
 * wallets), and both payments arrived.
 *
 * ```
 * node bench/net/scenarios/cash-partition.ts [--side-a 3] [--side-b 5] [--target s (60)] [--json] [--out FILE]
 * ```
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Network, startDaemons, tempDir } from '../harness/index.ts'
import type { PeerdDaemon } from '../harness/index.ts'
import { numberOption, progress, round, runCommand } from './common.ts'
import type { Check, ScenarioResult } from './common.ts'

/** Options of the partition-and-heal scenario. */
export interface CashPartitionOptions {
  /** Blocks mined on side A (hosts 1–3) during the partition (default 3). */
  sideABlocks?: number
  /** Blocks mined on side B (hosts 4–6) during the partition (default 5). */
  sideBBlocks?: number
  /** Seconds within which every host must report the same tip after the heal (default 60). */
  targetSeconds?: number
}

const COIN = 100_000_000
/** Regtest: 5 coins a block until the first halving at height 150. */
const SUBSIDY = 5 * COIN
const HALVING = 150
const PASSPHRASE = 'bench-net-partition'

interface Info { height: number, tip: string, mempool: { size: number } }
interface Balance { confirmed: number, unconfirmed: number, immature: number }

const info = async (d: PeerdDaemon): Promise<Info> => await d.api<Info>('GET', '/api/v1/chain/info')
const balance = async (d: PeerdDaemon): Promise<Balance> => await d.api<Balance>('GET', '/api/v1/wallet/balance')
const total = (b: Balance): number => b.confirmed + b.unconfirmed + b.immature

/** Polls until every daemon of `ds` reports the same tip (at least `height`); the seconds it took. */
async function converge (ds: PeerdDaemon[], timeoutMs: number, height = 0): Promise<{ seconds: number, info: Info } | undefined> {
  const t0 = performance.now()
  for (;;) {
    const infos = await Promise.all(ds.map(info))
    const first = infos[0] as Info
    if (first.height >= height && infos.every(i => i.tip === first.tip)) return { seconds: (performance.now() - t0) / 1000, info: first }
    if (performance.now() - t0 > timeoutMs) return undefined
    await sleep(200)
  }
}

async function mustConverge (ds: PeerdDaemon[], what: string, height = 0, timeoutMs = 60_000): Promise<Info> {
  const r = await converge(ds, timeoutMs, height)
  if (r == null) {
    const infos = await Promise.all(ds.map(info))
    throw new Error(`${what}: no common tip after ${timeoutMs / 1000} s: ${ds.map((d, i) => `${d.host.name} ${infos[i]?.height} ${infos[i]?.tip.slice(0, 12)}`).join(', ')}`)
  }
  return r.info
}

async function pay (from: PeerdDaemon, address: string, amount: string): Promise<{ txid: string, fee: number }> {
  return await from.api('POST', '/api/v1/send', { address, amount, passphrase: PASSPHRASE })
}

async function mine (d: PeerdDaemon, blocks: number, address: string): Promise<void> {
  await d.api('POST', '/api/v1/mine', { blocks, address }, 120_000)
}

/** Runs the partition-and-heal scenario; see the module comment. */
export async function cashPartition (options: CashPartitionOptions = {}): Promise<ScenarioResult> {
  const a = options.sideABlocks ?? 3
  const b = options.sideBBlocks ?? 5
  const target = options.targetSeconds ?? 60
  if (13 + Math.max(a, b) + 10 >= HALVING) throw new Error('keep the chain below the first halving (150 blocks)')
  const dir = await tempDir('cash-partition')
  const net = await Network.create(Array.from({ length: 6 }, (_, i) => ({ name: `h${i + 1}`, upMbit: 50, downMbit: 50 })))
  try {
    const ds = await startDaemons(net.hosts, dir.path)
    const [h1, h2, , h4, h5] = ds as [PeerdDaemon, PeerdDaemon, PeerdDaemon, PeerdDaemon, PeerdDaemon, PeerdDaemon]
    const sideA = ds.slice(0, 3)
    const sideB = ds.slice(3)
    // every host connected to the others of its side, so each side stays one network when split
    for (const side of [sideA, sideB]) {
      for (const [i, x] of side.entries()) for (const y of side.slice(i + 1)) await x.connect(y.address)
    }
    const addresses = await Promise.all(ds.map(async d => (await d.api<{ address: string }>('POST', '/api/v1/wallet/create', { passphrase: PASSPHRASE })).address))
    const addr = (d: PeerdDaemon): string => addresses[ds.indexOf(d)] as string

    // coins on both sides before the split: 12 blocks to host 1 (2 mature), 10 coins to host 4
    await mine(h1, 12, addr(h1))
    await mustConverge(ds, 'initial 12 blocks', 12)
    await pay(h1, addr(h4), '10')
    await mine(h1, 1, addr(h1))
    const before = await mustConverge(ds, 'funding block', 13)
    for (let t = 0; (await balance(h4)).confirmed < 10 * COIN; t++) {
      if (t > 150) throw new Error('host 4 never saw its 10 coins confirmed')
      await sleep(200)
    }
    progress(`cash-partition: funded, height ${before.height}; splitting 3 / 3`)

    await net.partition([sideA.map(d => d.host), sideB.map(d => d.host)])
    const payA = await pay(h1, addr(h2), '2.5')
    await mine(h1, a, addr(h1))
    const payB = await pay(h4, addr(h5), '1.25')
    await mine(h4, b, addr(h4))
    const tipA = await mustConverge(sideA, 'side A', before.height + a)
    const tipB = await mustConverge(sideB, 'side B', before.height + b)
    progress(`cash-partition: side A at ${tipA.height}, side B at ${tipB.height}; healing`)

    await net.heal()
    const healed = await converge(ds, Math.max(target, 30) * 2 * 1000)
    const healSeconds = healed == null ? Infinity : round(healed.seconds, 1)
    progress(`cash-partition: one tip everywhere ${healed == null ? 'never' : `after ${healSeconds} s`}`)

    // the losing side's payment is back in (some) mempools: mine until every mempool is empty
    let extra = 0
    let settled = false
    for (let attempt = 0; attempt < 6 && healed != null; attempt++) {
      await sleep(1000) // a moment for relayed transactions and their removal after a block
      const infos = await Promise.all(ds.map(info))
      const busy = ds.find((_, i) => (infos[i]?.mempool.size ?? 0) > 0)
      if (busy == null) { settled = true; break }
      await mine(busy, 1, addr(busy))
      extra++
      await mustConverge(ds, 'after an extra block', (infos[0]?.height ?? 0) + 1)
    }
    const final = await info(h1)
    const expected = final.height * SUBSIDY
    // wallets follow the chain asynchronously: poll until the sums agree (or 30 s)
    let balances: Balance[] = []
    for (let t = 0; t < 150; t++) {
      balances = await Promise.all(ds.map(balance))
      if (balances.reduce((s, x) => s + total(x), 0) === expected && total(balances[1] as Balance) > 0 && total(balances[4] as Balance) > 0) break
      await sleep(200)
    }
    const sum = balances.reduce((s, x) => s + total(x), 0)
    const got2 = (balances[1] as Balance).confirmed
    const got5 = (balances[4] as Balance).confirmed
    const checks: Check[] = [
      { name: 'seconds until every host reports the same tip after the heal', value: healSeconds, target: `≤ ${target}`, pass: healSeconds <= target },
      { name: 'the sides had diverged (different tips before the heal)', value: tipA.tip === tipB.tip ? 0 : 1, target: '= 1', pass: tipA.tip !== tipB.tip },
      { name: 'best chain height after the heal', value: healed?.info.height ?? 0, target: `= ${before.height + Math.max(a, b)}`, pass: healed?.info.height === before.height + Math.max(a, b) },
      { name: 'every mempool empty after extra blocks', value: extra, target: 'settled', pass: settled },
      { name: 'coins in all wallets − subsidy of the best chain (base units)', value: sum - expected, target: '= 0', pass: sum === expected },
      { name: 'host 2 received 2.5 (side A payment, confirmed)', value: got2 / COIN, target: '= 2.5', pass: got2 === 2.5 * COIN },
      { name: 'host 5 received 1.25 (side B payment, confirmed)', value: got5 / COIN, target: '= 1.25', pass: got5 === 1.25 * COIN }
    ]
    return {
      id: 'cash-partition',
      title: `4. partition and heal (cash): 6 hosts split 3 / 3, side A mines ${a}, side B mines ${b}`,
      params: { hosts: 6, sideABlocks: a, sideBBlocks: b, targetSeconds: target, upMbit: 50, downMbit: 50 },
      rows: [{
        'height split': before.height,
        'side A / B': `${tipA.height} / ${tipB.height}`,
        'heal → one tip s': healSeconds,
        'extra blocks': extra,
        'final height': final.height,
        'wallets Σ coins': sum / COIN,
        'subsidy coins': expected / COIN,
        'fees A / B': `${payA.fee} / ${payB.fee}`
      }],
      checks,
      notes: [
        'the sum counts confirmed + unconfirmed + immature of every wallet; every block is mined to one of them, so it must equal height × 5 coins',
        ...ds.map((d, i) => `${d.host.name}: ${JSON.stringify(balances[i])}`)
      ],
      data: { before, tipA, tipB, healSeconds, extra, final, balances, expected, payA, payB }
    }
  } finally {
    await net.destroy()
    await dir.remove()
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/cash-partition.ts [--side-a 3] [--side-b 5] [--target s (60)] [--json] [--out FILE]',
    { 'side-a': { type: 'string' }, 'side-b': { type: 'string' }, target: { type: 'string' } },
    async (values, report) => {
      report(await cashPartition({
        sideABlocks: numberOption(values, 'side-a', 3),
        sideBBlocks: numberOption(values, 'side-b', 5),
        targetSeconds: numberOption(values, 'target', 60)
      }))
    })
}
