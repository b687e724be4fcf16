/**
 * Bandwidth caps between real nodes over loopback TCP: a node with an upload cap serving a file
 * sends at the cap (its transport byte counters, everything it writes, within 5 %) while a block
 * it mines meanwhile reaches its peer at once (control traffic goes first); a download cap and a
 * single download's `maxRate` hold the receiver to theirs; caps changed while running apply at
 * once. The 30 s measurement over shaped links in namespaces is `bench/net/scenarios/bandwidth-caps.ts`.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(9)))
const CAP = 2_000_000
/** Measured after this long (the first wants and the bucket's burst), over this long. */
const WARMUP_MS = 1_200
const WINDOW_MS = 4_000

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Bytes a second `count` grows by over at least {@link WINDOW_MS}, after {@link WARMUP_MS}. The
 * bytes go out a block (1 MiB) at a time, so the window runs from the start of one block to the
 * start of another: a window cut mid-block would be off by up to a block (a quarter of it here).
 */
async function measure (count: () => number, during?: () => Promise<void>): Promise<number> {
  await sleep(WARMUP_MS)
  const blockStart = async (): Promise<{ t: number, n: number }> => {
    let prev = { t: performance.now(), n: count() }
    const deadline = prev.t + 3_000
    while (true) {
      if (performance.now() > deadline) throw new Error('no block started within 3 s')
      await sleep(5)
      const now = { t: performance.now(), n: count() }
      if (now.n - prev.n > 64 * 1024) return prev
      prev = now
    }
  }
  const [start] = await Promise.all([blockStart(), during?.()])
  await sleep(WINDOW_MS - (performance.now() - start.t))
  const end = await blockStart()
  return (end.n - start.n) / ((end.t - start.t) / 1000)
}

/**
 * The rate within 5 % above the cap and not far below. The meter's totals are transport bytes;
 * a cap also counts an estimate of TCP/IP headers (4.6 %), so on loopback a capped rate reads
 * about 0.956 of the cap.
 */
function assertNearCap (t: TestContext, rate: number, cap: number, what: string): void {
  t.diagnostic(`${what}: ${(rate / 1e6).toFixed(3)} MB/s, cap ${(cap / 1e6).toFixed(3)} MB/s`)
  assert.ok(rate <= cap * 1.05 && rate >= cap * 0.9, `${what}: ${(rate / 1e6).toFixed(3)} MB/s against a cap of ${(cap / 1e6).toFixed(3)} MB/s`)
}

describe('bandwidth caps', () => {
  const td = teardown()
  let a: PeerdNode
  let b: PeerdNode
  const files: string[] = []

  before(async () => {
    ;[a, b] = await Promise.all([td.testNode({ maxUpload: CAP }), td.testNode()])
    await b.connect(a.addresses()[0] as string)
    const dir = await td.dir()
    // each lasts the warm-up and the window at its cap; the last one runs to its end under its cap
    for (let i = 0; i < 3; i++) {
      const path = join(dir, `file${i}`)
      await writeRandomFile(path, 16 * 1024 * 1024)
      files.push((await a.share.share(path)).cid)
    }
  })

  it('an upload cap holds the sender to it while a mined block reaches the peer at once', { timeout: 30_000 }, async (t) => {
    const get = b.share.get(files[0] as string)
    let blockMs = Infinity
    const rate = await measure(() => a.bandwidth.totals().bytesOut, async () => {
      const height = (await a.cash.info()).height
      const t0 = performance.now()
      await a.cash.mine(1, ADDRESS)
      while ((await b.cash.info()).height <= height) await sleep(10)
      blockMs = performance.now() - t0
    })
    assertNearCap(t, rate, CAP, 'upload of the capped node')
    t.diagnostic(`block reached the peer in ${Math.round(blockMs)} ms`)
    assert.ok(blockMs < 1_500, `a block mined under a saturated upload cap took ${Math.round(blockMs)} ms to reach the peer`)
    assert.deepEqual(a.limits.state().effective, { maxUpload: CAP, maxDownload: 0 })
    // lifted while running: the rest of the file goes at once
    a.limits.set({ maxUpload: 0 })
    await get
  })

  it('a download cap, then one download\'s maxRate, hold the receiver to theirs', { timeout: 30_000 }, async (t) => {
    b.limits.set({ maxDownload: CAP })
    const get = b.share.get(files[1] as string)
    assertNearCap(t, await measure(() => b.bandwidth.totals().bytesIn), CAP, 'download of the capped node')
    b.limits.set({ maxDownload: 0 })
    await get

    const perTransfer = 2_500_000
    const capped = b.share.get(files[2] as string, { maxRate: perTransfer })
    assertNearCap(t, await measure(() => b.bandwidth.totals().bytesIn), perTransfer, 'a download with maxRate')
    await capped
  })
})
