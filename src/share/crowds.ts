/**
 * The downloaders of each whole root this node serves, and their super-seeding: from the second
 * downloader of a root on, the block server answers SEEDING and tells each downloader which
 * blocks to ask for, as the hand-out (handout.ts) decides; with one left, it serves it as usual
 * (COMPLETE). This module keeps the crowds and speaks the SEEDING side of the protocol on each
 * stream; the block server (server.ts) reads the streams and sends the blocks.
 */
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockKey } from './block.ts'
import { Handout, listBlocks } from './handout.ts'
import { encode, MAX_WANTS, ProtocolError, ROOT_STATUS } from './protocol.ts'

/** One block stream being served. */
export interface Served {
  /** Unique per stream (a peer may download two roots). */
  id: string
  peer: string
  /** Wanted blocks in the order asked, each once: asking again for a queued block adds nothing. */
  queue: Map<string, CID>
  /** Told CHOKE: its wants are dropped until UNCHOKE. */
  choked: boolean
  /** Served by hand-out (SEEDING), outside the choking: see handout.ts. */
  seeding: boolean
  closed: boolean
  /** The crowd of its root, when it asked about a complete root of ours. */
  crowd?: Crowd
  /** Block CIDs it announced (HAVE) since it was last moved into seeding, bounded by the root's size. */
  haves: number
  /** Sends a small frame, unawaited (queued behind the blocks). */
  post: (frame: Parameters<Stream['send']>[0]) => void
  pump: () => void
}

/** The streams downloading one complete root of ours, and its hand-out once there are two. */
interface Crowd {
  root: CID
  streams: Set<Served>
  /** undefined: not listed yet; null: too large (or too small) to hand out: served as usual. */
  handout?: Handout | null
  listing?: Promise<void>
}

/** Options of {@link Crowds}. */
export interface CrowdsInit {
  /** Reads a block of ours (to list a root's blocks). */
  getBytes: (cid: CID) => Promise<Uint8Array>
  /** Whether a peer holds an upload slot (a stream moved out of seeding is choked otherwise). */
  isUnchoked: (peer: string) => boolean
}

/** See the module comment. */
export class Crowds {
  private readonly init: CrowdsInit
  /** By root; only while streams are open. */
  private readonly crowds = new Map<string, Crowd>()

  constructor (init: CrowdsInit) {
    this.init = init
  }

  /**
   * `s` asked about a root this node has whole: it joins the root's crowd, and from the second
   * downloader on the crowd is super-seeded (SEEDING). The root's blocks are listed in the
   * background (the first answers do not wait for it). Returns whether the answer was sent.
   */
  join (s: Served, root: CID): boolean {
    const key = root.toString()
    let crowd = this.crowds.get(key)
    if (crowd == null) {
      crowd = { root, streams: new Set() }
      this.crowds.set(key, crowd)
    }
    s.crowd = crowd
    crowd.streams.add(s)
    const c = crowd
    c.listing ??= listBlocks(root, this.init.getBytes).then(list => {
      c.handout = list == null || list.leaves.length < 2 ? null : new Handout(list.leaves, list.inner)
      for (const other of c.streams) c.handout?.join(other.id)
      // streams answered meanwhile (COMPLETE) are told SEEDING now
      if (c.streams.size >= 2) for (const other of c.streams) this.setSeeding(other, true)
    })
    if (c.handout == null) return false
    c.handout.join(s.id)
    if (c.streams.size < 2) return false
    for (const other of c.streams) if (other !== s) this.setSeeding(other, true)
    this.setSeeding(s, true)
    return true
  }

  /** `s` ended. */
  leave (s: Served): void {
    const crowd = s.crowd
    if (crowd == null) return
    crowd.streams.delete(s)
    crowd.handout?.leave(s.id)
    if (crowd.streams.size === 0) this.crowds.delete(crowd.root.toString())
    else if (crowd.streams.size === 1) for (const other of crowd.streams) this.setSeeding(other, false)
    else if (crowd.handout != null) for (const other of crowd.streams) this.offer(other)
  }

  /** Whether `s` may be sent `key`: on a SEEDING stream, a data block only once offered. */
  mayAsk (s: Served, key: string): boolean {
    return !s.seeding || s.crowd?.handout?.mayAsk(s.id, key) !== false
  }

  /** `key` went out on `s`; returns whether `s` is super-seeded (outside the choking). */
  sent (s: Served, key: string): boolean {
    const handout = s.crowd?.handout
    // what each downloader of a crowd's root holds is followed from the start, seeding or not
    handout?.sent(s.id, key)
    if (!s.seeding || handout == null) return false
    this.offer(s)
    return true
  }

  /** The downloader on `s` says it holds `cids` (HAVE), at most about once per block. */
  announced (s: Served, cids: CID[]): void {
    const handout = s.crowd?.handout
    if (handout == null) throw new ProtocolError('HAVE from a downloader that was not asked for it')
    s.haves += cids.length
    if (s.haves > handout.leaves.length + handout.inner.length + MAX_WANTS) throw new ProtocolError('announced more blocks than the content has')
    // in flight when the stream was moved out of seeding: nothing to hand out on it
    if (!s.seeding) return
    for (const cid of cids) {
      const opened = handout.have(s.id, blockKey(cid))
      for (const p of opened) {
        for (const other of s.crowd?.streams ?? []) if (other.id === p.id) this.offer(other)
      }
    }
    this.offer(s)
  }

  /** Moves `s` into or out of super-seeding, telling its downloader by a ROOT message. */
  private setSeeding (s: Served, on: boolean): void {
    const handout = s.crowd?.handout
    if (handout == null || s.seeding === on || s.closed) return
    s.seeding = on
    const root = s.crowd?.root as CID
    if (on) {
      // the downloader announces everything it holds at each start of seeding: counted afresh
      s.haves = 0
      handout.join(s.id)
      s.post(encode.root(root, ROOT_STATUS.SEEDING))
      if (s.choked) {
        s.choked = false
        s.post(encode.unchoke())
      }
      for (let i = 0; i < handout.inner.length; i += MAX_WANTS) s.post(encode.have(handout.inner.slice(i, i + MAX_WANTS)))
      this.offer(s)
    } else {
      s.post(encode.root(root, ROOT_STATUS.COMPLETE))
      if (!this.init.isUnchoked(s.peer)) {
        s.choked = true
        s.queue.clear()
        s.post(encode.choke())
      }
    }
  }

  /** Offers `s` the blocks the hand-out gives it next. */
  private offer (s: Served): void {
    if (!s.seeding) return
    const cids = s.crowd?.handout?.next(s.id) ?? []
    if (cids.length > 0) s.post(encode.have(cids))
  }
}
