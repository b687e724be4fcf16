/**
 * Private sharing (`peerd share --private PATH`): the node serves its privately shared roots only
 * through one onion service of its own (named {@link SHARE_SERVICE_NAME}, hosted in-process
 * through `node.onion.services.serveHandler`), whose streams speak the block protocol
 * (`onion-server.ts`), and announces each root by that service's address: a share record
 * (`onion-record.ts`) signed by the service's key, stored through a circuit (`record-directory.ts`),
 * republished every hour. No provider record names the node's peer id, and its libp2p block
 * server and Bitswap withhold those blocks (`private-blocks.ts`).
 *
 * A downloader (`peerd get --private`) reads the record the same way and reaches each address
 * with `node.onion.connect`; see `index.ts`.
 * @module
 */
import type { Duplex } from 'node:stream'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError, NotStartedError } from '../../errors.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import { liveShareEntries, MAX_LIFETIME_SEC, mergeShareRecord, shareRecordKey, signShareEntry } from './onion-record.ts'
import { ShareRecordDirectory } from './record-directory.ts'
import type { OnionDialer } from './types.ts'

/** The onion service's name in `node.onion.services` (its key is `<dataDir>/onion/services/share.key`). */
export const SHARE_SERVICE_NAME = 'share'
/** The virtual port the block protocol answers on (any port reaches it; clients ask for this one). */
export const SHARE_SERVICE_PORT = 1
/** How often each private root's record is published again. */
export const REPUBLISH_MS = 60 * 60_000
/** The target the onion services list shows for an in-process handler (`OnionServices.serveHandler`). */
const IN_PROCESS = 'in-process handler'
/** How soon a failed publication is tried again. */
const RETRY_MS = 15_000

/** What private sharing needs of the node's onion service (`PeerdNode.onion` is one). */
export interface OnionHost extends OnionDialer {
  /** Opens a stream to `port` on the onion service at `address`. */
  connect?: (address: string, port: number, options?: { isolation?: string, signal?: AbortSignal }) => Promise<Duplex>
  /** The services this node hosts. */
  readonly services?: {
    serveHandler: (name: string, handler: (stream: Duplex, port: number) => void) => Promise<{ address: string }>
    list: () => Array<{ name: string, target: string }>
  }
}

/** Options of an {@link OnionShare}. */
export interface OnionShareInit {
  host: PeerdHost
  network: string
  log: Logger
  /** `<dataDir>/onion`: where the service's key is kept. */
  onionDir: string
  /** Streams of the service (the block protocol over each). */
  onStream: (stream: Duplex) => void
  /** The privately shared roots (republished each hour). */
  roots: () => Promise<CID[]>
}

/** See the module header. */
export class OnionShare {
  private readonly init: OnionShareInit
  private onion?: OnionHost
  private directory?: ShareRecordDirectory
  private service?: Promise<{ address: string, seed: Uint8Array }>
  private ownAddress?: string
  /** The service is being hosted (not yet in the services' list). */
  private hosting = false
  private timer?: ReturnType<typeof setTimeout>
  private readonly retry = new Set<string>()
  private stopped = false
  /** When each root's record was last stored. */
  readonly publishedAt = new Map<string, number>()

  constructor (init: OnionShareInit) {
    this.init = init
  }

  /** The onion service's address, once it runs. */
  get address (): string | undefined {
    return this.ownAddress
  }

  /** The node's onion service (set before it starts). */
  attach (onion: OnionHost): void {
    this.onion = onion
    this.directory = new ShareRecordDirectory({ host: this.init.host, dialer: onion, network: this.init.network, log: this.init.log })
  }

  /** Whether private sharing can run now. */
  get ready (): boolean {
    return this.onion?.running === true && this.onion.services != null
  }

  /** Hosts the service (once) and publishes every private root; a no-op with none. */
  async start (): Promise<void> {
    this.stopped = false
    const roots = await this.init.roots()
    if (roots.length === 0) return
    await this.ensure()
    for (const root of roots) void this.publish(root)
    this.schedule(REPUBLISH_MS)
  }

  stop (): void {
    this.stopped = true
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    this.retry.clear()
  }

  /** Hosts the service if it does not run yet; resolves with its address. */
  async ensure (): Promise<string> {
    const onion = this.onion
    if (onion?.running !== true || onion.services == null) throw new NotStartedError('a private share needs onion routing, which is not running on this node')
    const services = onion.services
    const hosted = services.list().find(s => s.name === SHARE_SERVICE_NAME)
    // a service of the user's under this name would be replaced, and its address would serve blocks
    if (hosted != null && hosted.target !== IN_PROCESS) throw new InvalidArgumentError(`an onion service named "${SHARE_SERVICE_NAME}" serves ${hosted.target}: private shares need that name (peerd onion stop ${SHARE_SERVICE_NAME}, then serve it under another name)`)
    // stopped from outside (peerd onion stop share): hosted again
    if (hosted == null && !this.hosting) this.service = undefined
    this.service ??= (async () => {
      this.hosting = true
      const { address } = await services.serveHandler(SHARE_SERVICE_NAME, this.init.onStream)
      const seed = new Uint8Array(await readFile(join(this.init.onionDir, 'services', `${SHARE_SERVICE_NAME}.key`)))
      // the record must be signed by the key the address encodes: check the file is that key
      const probe = signShareEntry(new Uint8Array(1), seed, 0)
      if (Buffer.compare(probe.publicKey, onion.publicKeyOf(address)) !== 0) throw new Error(`the ${SHARE_SERVICE_NAME} service's key file does not match its address`)
      this.ownAddress = address
      this.init.log.info('private sharing through onion service', { address })
      return { address, seed }
    })().finally(() => { this.hosting = false })
    try {
      return (await this.service).address
    } catch (err) {
      this.service = undefined
      throw err
    }
  }

  /** Stores `root`'s record with this service's entry (merged with other sharers'); retried until it sticks. */
  async publish (root: CID): Promise<boolean> {
    const directory = this.directory
    if (directory == null || this.stopped) return false
    const { seed } = await (this.service ?? Promise.reject(new NotStartedError('the share onion service is not running')))
    const key = shareRecordKey(this.init.network, root)
    const nowSec = Math.floor(Date.now() / 1000)
    let ok = false
    try {
      const current = await directory.get(key).catch(() => undefined)
      const value = mergeShareRecord(key, current, signShareEntry(key, seed, nowSec + MAX_LIFETIME_SEC), nowSec)
      ok = await directory.put(key, value)
    } catch (err) {
      this.init.log.debug('share record not published', { cid: root.toString(), error: (err as Error).message })
    }
    if (ok) {
      this.publishedAt.set(root.toString(), Date.now())
      this.retry.delete(root.toString())
      this.init.log.debug('share record published', { cid: root.toString() })
    } else if (!this.stopped) {
      this.retry.add(root.toString())
      this.schedule(RETRY_MS)
    }
    return ok
  }

  /** Forgets `root` (unshared): its entry expires on its own. */
  forget (root: CID): void {
    this.publishedAt.delete(root.toString())
    this.retry.delete(root.toString())
  }

  /** The onion addresses a share record lists for `root` (this node's own left out). */
  async lookup (root: CID, signal?: AbortSignal): Promise<string[]> {
    const directory = this.directory
    if (directory == null) return []
    const key = shareRecordKey(this.init.network, root)
    const bytes = await directory.get(key, signal)
    if (bytes == null) return []
    let entries
    try {
      entries = liveShareEntries(key, bytes, Math.floor(Date.now() / 1000))
    } catch (err) {
      this.init.log.debug('a share record did not verify', { cid: root.toString(), error: (err as Error).message })
      return []
    }
    const onion = this.onion
    if (onion == null) return []
    return entries.map(e => onion.addressOf(e.publicKey)).filter(a => a !== this.ownAddress)
  }

  private schedule (ms: number): void {
    if (this.stopped) return
    if (this.timer != null) {
      if (ms >= REPUBLISH_MS) return
      clearTimeout(this.timer)
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.round().catch(() => {})
    }, ms)
    this.timer.unref?.()
  }

  /** Republishes every root (hourly), or only those that failed (a retry). */
  private async round (): Promise<void> {
    if (this.stopped || this.service == null) return
    const all = await this.init.roots()
    const due = this.retry.size > 0 ? all.filter(r => this.retry.has(r.toString()) || Date.now() - (this.publishedAt.get(r.toString()) ?? 0) >= REPUBLISH_MS) : all
    this.retry.clear()
    for (const root of due) await this.publish(root)
    this.schedule(REPUBLISH_MS)
  }
}
