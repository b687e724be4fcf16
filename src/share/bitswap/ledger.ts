/**
 * The serving side of Bitswap: answers each peer's wantlist from the blockstore, and remembers
 * (up to a cap per peer) what a peer wants that is not here yet, to send it when it is stored.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockKey } from '../block.ts'
import { PresenceType, WantType } from './message.ts'
import type { Wantlist } from './message.ts'
import type { Outbox } from './outbox.ts'

/** A want a peer left with us. */
export interface LedgerEntry {
  cid: CID
  wantType: WantType
  priority: number
}

/** What {@link Ledgers} needs. */
export interface LedgersInit {
  has: (cid: CID) => Promise<boolean>
  outbox: (peerId: PeerId) => Outbox
  maxWantsPerPeer: number
}

interface PeerLedger {
  peerId: PeerId
  wants: Map<string, LedgerEntry>
}

/** Every peer's outstanding wants of blocks we lack; a peer's entry lives until it disconnects. */
export class Ledgers {
  private readonly init: LedgersInit
  private readonly peers = new Map<string, PeerLedger>()

  constructor (init: LedgersInit) {
    this.init = init
  }

  /** Number of wants held, over all peers. */
  get size (): number {
    let n = 0
    for (const l of this.peers.values()) n += l.wants.size
    return n
  }

  /** Answers `wantlist` from `peerId`: blocks and presences for what we have, DontHave (if asked) and a remembered want for what we lack. */
  async receive (peerId: PeerId, wantlist: Wantlist): Promise<void> {
    let ledger = this.peers.get(peerId.toString())
    if (ledger == null) {
      ledger = { peerId, wants: new Map() }
      this.peers.set(peerId.toString(), ledger)
    }
    if (wantlist.full) ledger.wants.clear()
    const out = this.init.outbox(peerId)
    for (const e of wantlist.entries) {
      const key = blockKey(e.cid)
      if (e.cancel) {
        ledger.wants.delete(key)
        out.drop(key)
        continue
      }
      // remember first, check after: a block stored meanwhile is then sent by stored(), not missed
      const remembered = ledger.wants.has(key) || ledger.wants.size < this.init.maxWantsPerPeer
      if (remembered) ledger.wants.set(key, { cid: e.cid, wantType: e.wantType, priority: e.priority })
      if (await this.init.has(e.cid)) {
        // undefined when stored() answered it while we were checking
        if (ledger.wants.get(key) === undefined && remembered) continue
        ledger.wants.delete(key)
        if (e.wantType === WantType.Have) out.presence(e.cid, PresenceType.Have)
        else out.block(e.cid)
      } else if (e.sendDontHave) {
        out.presence(e.cid, PresenceType.DontHave)
      }
    }
  }

  /** A block was stored: send it (or Have) to every peer waiting for it. */
  stored (cid: CID): void {
    const key = blockKey(cid)
    for (const ledger of this.peers.values()) {
      const want = ledger.wants.get(key)
      if (want == null) continue
      ledger.wants.delete(key)
      const out = this.init.outbox(ledger.peerId)
      if (want.wantType === WantType.Have) out.presence(want.cid, PresenceType.Have)
      else out.block(want.cid)
    }
  }

  /** Forgets a peer's wants (it disconnected). */
  forget (peerId: PeerId): void {
    this.peers.delete(peerId.toString())
  }

  /** Forgets everything. */
  clear (): void {
    this.peers.clear()
  }
}
