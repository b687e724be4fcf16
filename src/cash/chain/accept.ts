/**
 * Block acceptance (Bitcoin Core's AcceptBlock): what a block must pass before it is stored —
 * not known or known invalid, a known and valid parent, its header in context, a fork within
 * `maxReorgDepth`, enough work when unsolicited, a well-formed body — then its one storing
 * batch, and the hand-over to {@link activate} when its branch has the most work.
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { blockSize, encodeBlock } from '../primitives/block.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { encodeHeader, HEADER_SIZE, headerHash } from '../primitives/header.ts'
import { checkBlock, checkHeader } from '../consensus/check-block.ts'
import { checkBlockContext, checkHeaderContext, nextBits } from '../consensus/context.ts'
import { blockWork } from '../consensus/pow.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { ops } from './chain-db.ts'
import { entryRecord } from './block-index.ts'
import type { IndexEntry } from './block-index.ts'
import { checkReorgDepth } from './chain-state.ts'
import type { ChainState } from './chain-state.ts'
import { committedByHeader, hex } from './connect.ts'
import { activate } from './reorg.ts'
import type { AddBlockOptions, AddResult } from './types.ts'

/**
 * {@link Chain.addBlock} without its lock: validates and stores `block`, and connects it when
 * its branch has the most work.
 */
export async function acceptBlock (s: ChainState, block: Block, options: AddBlockOptions): Promise<AddResult> {
  const tip = s.tip()
  const hash = headerHash(block.header)
  const key = hex(hash)
  const known = s.index.get(hash)
  // stored with more work than the tip yet not connected: its connection failed on a write
  // (disk full, I/O error), so a retry connects it instead of being ignored as a duplicate
  if (known?.status === 'stored' && known.chainwork > tip.chainwork) {
    await activate(s, known)
    return 'connected'
  }
  if (known !== undefined && known.status !== 'invalid') return 'duplicate'
  if (known !== undefined || s.invalid.has(key)) {
    throw new VerifyError('block', 'duplicate-invalid', 100, `block ${hashToHex(hash)} is known to be invalid`)
  }
  const prev = s.index.get(block.header.prevHash)
  if (prev === undefined) {
    return 'orphan' // not decoded further: the caller asks its sender for headers
  }
  if (prev.status === 'invalid') {
    s.invalid.add(key)
    throw new VerifyError('block', 'bad-prevblk', 100, `parent ${hashToHex(prev.hash)} is invalid`)
  }
  try {
    checkHeader(block.header, s.params, hash)
    checkHeaderContext(block.header, {
      prevHeight: prev.height,
      prevMedianTimePast: prev.medianTimePast,
      expectedBits: nextBits({ height: prev.height, time: prev.header.time }, s.params),
      now: s.now()
    }, s.params)
  } catch (err) {
    if (err instanceof VerifyError && err.reason !== 'time-too-new') s.invalid.add(key)
    throw err
  }
  const fork = s.index.findFork(prev)
  checkReorgDepth(s.params, tip.height - fork.height)
  const chainwork = prev.chainwork + blockWork(block.header.bits)
  // Before the body is looked at: junk on a cheap side branch costs one header check.
  if (options.unsolicited === true && (chainwork < tip.chainwork || chainwork < s.params.minimumChainWork)) {
    s.log.debug('unsolicited block with too little work ignored', { hash: hashToHex(hash), height: prev.height + 1, peer: options.peer })
    return 'ignored'
  }
  const txids = checkBody(s, block, key)
  try {
    checkBlockContext(block, prev.height + 1, prev.medianTimePast, s.params)
  } catch (err) {
    if (err instanceof VerifyError) s.invalid.add(key)
    throw err
  }
  const entry: IndexEntry = {
    hash,
    prevHash: block.header.prevHash,
    height: prev.height + 1,
    header: block.header,
    chainwork,
    medianTimePast: s.index.mtpAfter(prev, block.header.time),
    status: 'stored'
  }
  await s.db.write([ops.entry(hash, entryRecord(entry)), ops.block(hash, blockBytes(block, options.bytes))])
  s.index.add(entry)
  if (entry.chainwork <= tip.chainwork) {
    s.log.debug('side block stored', { hash: hashToHex(hash), height: entry.height, peer: options.peer })
    return 'side'
  }
  await activate(s, entry, new Map([[key, { block, txids }]]))
  return fork === tip ? 'connected' : 'reorganized'
}

/** checkBlock, remembering the hash as invalid only when the header commits to every byte that broke a rule. */
function checkBody (s: ChainState, block: Block, key: string): Uint8Array[] {
  try {
    return checkBlock(block, s.params)
  } catch (err) {
    if (err instanceof VerifyError && !err.malleated && committedByHeader(block)) s.invalid.add(key)
    throw err
  }
}

/**
 * The bytes to store: the caller's when their header and length match the block (a cheap
 * guard against passing another block's bytes), else a fresh encoding.
 */
function blockBytes (block: Block, given: Uint8Array | undefined): Uint8Array {
  if (given !== undefined && given.length === blockSize(block, { witness: true }) &&
    bytesEqual(given.subarray(0, HEADER_SIZE), encodeHeader(block.header))) return given
  return encodeBlock(block)
}
