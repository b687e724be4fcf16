/**
 * A provider that sends a few blocks and then holds every other want must not stall a download
 * that another provider can finish: once that one joins, the held wants are overdue within
 * seconds and go to it too (the endgame).
 *
 * The session runs against scripted providers over in-memory streams (no network): the "gate"
 * sends the root after a round trip of 50 ms (a loaded machine), then three leaves or none, and
 * holds the rest; the "seeder" answers only after that, and serves everything. A peer's rate
 * was its first block over its round trip (a few KB/s for a root of a few hundred bytes), kept
 * while later blocks came within 200 ms, and a held leaf was due a 1 MiB block's time at that
 * rate later: minutes, so the session failed with "no data" first (share-trade.spec.ts in CI).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { PeerdHost } from '../../../src/net/host.ts'
import { blockKey } from '../../../src/share/block.ts'
import { FsBlockstore } from '../../../src/share/blockstore.ts'
import { decodeMessage, encode, readFrames, ROOT_STATUS } from '../../../src/share/protocol.ts'
import { Session } from '../../../src/share/session.ts'
import { SILENT_LOGGER } from '../../../src/utils/logger.ts'
import { tempDir } from '../../utils/index.ts'

const LEAVES = 8
const LEAF_SIZE = 256 * 1024
const PROTOCOL = '/peerd/test/blocks/1.2.0'

/** An async queue of chunks: one direction of an in-memory stream. */
class Pipe implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = []
  private wake?: () => void
  private ended = false

  push (data: Uint8Array | Uint8ArrayList): void {
    this.chunks.push(data instanceof Uint8Array ? data : data.subarray())
    this.wake?.()
  }

  end (): void {
    this.ended = true
    this.wake?.()
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array> {
    while (true) {
      const next = this.chunks.shift()
      if (next != null) {
        yield next
      } else if (this.ended) {
        return
      } else {
        await new Promise<void>(resolve => { this.wake = resolve })
        this.wake = undefined
      }
    }
  }
}

/** The downloader's end of a stream to a scripted provider, and what the provider reads. */
function streamPair (): { stream: { send: (d: Uint8Array | Uint8ArrayList) => boolean, abort: (e: Error) => void, [Symbol.asyncIterator]: () => AsyncIterator<Uint8Array> }, toProvider: Pipe, toSession: Pipe } {
  const toProvider = new Pipe()
  const toSession = new Pipe()
  const stream = {
    send: (d: Uint8Array | Uint8ArrayList) => { toProvider.push(d); return true },
    abort: () => { toProvider.end(); toSession.end() },
    [Symbol.asyncIterator]: () => toSession[Symbol.asyncIterator]()
  }
  return { stream, toProvider, toSession }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Downloads the file from the gate, which sends the root (after 50 ms) and `released` leaves and
 * holds the other wants, and the seeder, which answers only after those: resolves with the
 * session's result, what each sent and how long it took.
 */
async function download (released: number, dir: string): Promise<{ blocks: number, gateLeaves: number, seederLeaves: number, seconds: number }> {
  // a file of eight raw leaves under one dag-pb node
  const blocks = new Map<string, Uint8Array>()
  const leaves: CID[] = []
  for (let i = 0; i < LEAVES; i++) {
    const bytes = randomBytes(LEAF_SIZE)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    blocks.set(blockKey(cid), bytes)
    leaves.push(cid)
  }
  const rootBytes = dagPb.encode(dagPb.prepare({ Links: leaves.map(cid => ({ Hash: cid, Tsize: LEAF_SIZE })) }))
  const root = CID.createV1(dagPb.code, await sha256.digest(rootBytes))
  blocks.set(blockKey(root), rootBytes)

  const newPeerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const gateId = await newPeerId()
  const seederId = await newPeerId()
  const selfId = await newPeerId()
  let gateLeaves = 0
  let seederLeaves = 0
  let releaseSeeder = (): void => {}
  const seederMayAnswer = new Promise<void>(resolve => { releaseSeeder = resolve })

  /** Runs a scripted provider on `pipes` until the session closes the stream. */
  const serve = (name: 'gate' | 'seeder', pipes: ReturnType<typeof streamPair>): void => {
    void (async () => {
      for await (const body of readFrames(pipes.toProvider)) {
        const msg = decodeMessage(body)
        if (msg.type === 'status') {
          if (name === 'seeder') await seederMayAnswer
          pipes.toSession.push(encode.root(msg.cid, ROOT_STATUS.COMPLETE))
        } else if (msg.type === 'want') {
          for (const cid of msg.cids) {
            if (name === 'gate') {
              if (cid.equals(root)) {
                await sleep(50) // a loaded machine's round trip
                if (released === 0) setTimeout(releaseSeeder, 20)
              } else {
                if (gateLeaves >= released) continue // held for good
                if (++gateLeaves === released) setTimeout(releaseSeeder, 20)
              }
            } else if (cid.code === raw.code) {
              seederLeaves++
            }
            pipes.toSession.push(encode.block(cid, blocks.get(blockKey(cid)) as Uint8Array))
          }
        }
      }
    })().catch(() => {})
  }

  const host = {
    peerId: selfId,
    dialProtocol: async (peerId: PeerId) => {
      const pipes = streamPair()
      serve(peerId.equals(gateId) ? 'gate' : 'seeder', pipes)
      return pipes.stream
    }
  } as unknown as PeerdHost
  const blockstore = new FsBlockstore(dir)
  await blockstore.open()
  const started = Date.now()
  const session = new Session({
    root,
    host,
    blockstore,
    protocol: PROTOCOL,
    log: SILENT_LOGGER,
    // both found at once; the seeder answers its STATUS only once the gate has sent what it sends
    findProviders: async function * () { yield gateId; yield seederId },
    onMisbehaviour: (_peer, reason) => { assert.fail(`reported a provider: ${reason}`) },
    stallTimeoutMs: 10_000
  })
  const result = await session.run()
  return { blocks: result.blocks, gateLeaves, seederLeaves, seconds: (Date.now() - started) / 1000 }
}

describe('a provider holding its wants', () => {
  const cleanups: Array<() => Promise<void>> = []
  after(async () => { for (const c of cleanups) await c() })

  for (const released of [3, 0]) {
    it(`that sent the root and ${released} leaves loses them to a provider that joins later: the download ends in seconds, not at the stall timeout`, { timeout: 30_000 }, async () => {
      const dir = await tempDir('peerd-held-wants-')
      cleanups.push(dir.cleanup)
      const got = await download(released, dir.path)
      assert.equal(got.blocks, LEAVES + 1)
      assert.equal(got.gateLeaves, released, `the gate sent ${released} leaves`)
      assert.equal(got.seederLeaves, LEAVES - released, 'the seeder sent the leaves the gate held')
      assert.ok(got.seconds < 5, `took ${got.seconds.toFixed(1)} s`)
    })
  }
})
