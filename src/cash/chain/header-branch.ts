/**
 * A run of headers a peer showed, checked in context before any of its blocks is asked for
 * (Bitcoin Core's headers-first: `AcceptBlockHeader` / `ContextualCheckBlockHeader`, and the
 * work test of `TryLowWorkHeadersSync`). It starts at a block the chain has stored, checks each
 * header's proof of work, its bits against ASERT given its parent, its time against the median
 * time past and the clock, and sums the work, so the sync compares the branch's own work with
 * the tip rather than what the peer claims. Only the hashes not yet handed out are kept.
 *
 * @example
 * ```ts
 * const branch = chain.headerBranch(headers[0].prevHash) // undefined: parent unknown
 * branch.extend(headers)                                   // throws VerifyError (kind 'header')
 * if (branch.chainwork > chain.tip.chainwork) download(branch.take())
 * ```
 * @module
 */
import { checkHeader } from '../consensus/check-block.ts'
import { checkHeaderContext, medianTimePast, nextBits } from '../consensus/context.ts'
import type { ChainParams } from '../consensus/params.ts'
import { blockWork } from '../consensus/pow.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { headerHash } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'

/** The stored block a branch starts from, and the times its median time past needs. */
export interface BranchRoot {
  hash: Uint8Array
  height: number
  time: number
  chainwork: bigint
  /** Times of the last `medianTimeSpan` blocks ending at the root (fewer near genesis). */
  times: number[]
}

/** Options of {@link HeaderBranch}. */
export interface HeaderBranchInit {
  root: BranchRoot
  params: ChainParams
  /** The node's clock, Unix seconds. */
  now: () => number
  /** Whether the chain knows this block to be invalid. */
  isInvalid: (hash: Uint8Array) => boolean
}

/** A header chain hanging off a stored block, validated header by header. */
export class HeaderBranch {
  /** The stored block the branch starts from. */
  readonly root: BranchRoot
  /** Hash, height and time of the last header accepted (the root before any). */
  tipHash: Uint8Array
  height: number
  /** Work of the chain up to the last header: the root's and every header's. */
  chainwork: bigint
  private time: number
  private readonly times: number[]
  private pending: Uint8Array[] = []
  private readonly params: ChainParams
  private readonly now: () => number
  private readonly isInvalid: (hash: Uint8Array) => boolean

  constructor (init: HeaderBranchInit) {
    this.root = init.root
    this.params = init.params
    this.now = init.now
    this.isInvalid = init.isInvalid
    this.tipHash = init.root.hash
    this.height = init.root.height
    this.time = init.root.time
    this.chainwork = init.root.chainwork
    this.times = init.root.times.slice(-init.params.medianTimeSpan)
  }

  /** Hashes accepted and not yet {@link take}n. */
  get pendingCount (): number { return this.pending.length }

  /**
   * Appends `headers`, each the child of the one before (the first of the branch tip). Stops
   * at the first bad one; those before it stay accepted.
   *
   * @throws VerifyError of kind 'header': 'bad-header-chain' (20) for a header that does not
   *   follow, 'duplicate-invalid' (100) for a block known invalid, checkHeader's and
   *   checkHeaderContext's reasons ('time-too-new' scores 0)
   */
  extend (headers: readonly BlockHeader[]): void {
    for (const header of headers) {
      if (!bytesEqual(header.prevHash, this.tipHash)) {
        throw new VerifyError('header', 'bad-header-chain', 20, `header after ${hashToHex(header.prevHash)} does not follow ${hashToHex(this.tipHash)}`)
      }
      const hash = headerHash(header)
      checkHeader(header, this.params, hash)
      if (this.isInvalid(hash)) throw new VerifyError('header', 'duplicate-invalid', 100, `block ${hashToHex(hash)} is known to be invalid`)
      checkHeaderContext(header, {
        prevHeight: this.height,
        prevMedianTimePast: medianTimePast(this.times),
        expectedBits: nextBits({ height: this.height, time: this.time }, this.params),
        now: this.now()
      }, this.params)
      this.tipHash = hash
      this.height++
      this.time = header.time
      this.chainwork += blockWork(header.bits)
      this.times.push(header.time)
      if (this.times.length > this.params.medianTimeSpan) this.times.shift()
      this.pending.push(hash)
    }
  }

  /** The hashes accepted since the last call, in chain order. */
  take (): Uint8Array[] {
    const out = this.pending
    this.pending = []
    return out
  }
}
