/**
 * Cash consensus: pure rule functions over plain data and a read-only coin view. Storage and
 * networking call them; they never call storage or networking.
 *
 * @example
 * ```ts
 * import { checkBlock, checkBlockContext, checkHeaderContext, applyBlock, checkBlockSignatures, nextBits } from './consensus/index.ts'
 *
 * const txids = checkBlock(block, params)                       // context-free
 * checkHeaderContext(block.header, { prevHeight, prevMedianTimePast, expectedBits: nextBits(prev, params), now }, params)
 * checkBlockContext(block, height, prevMedianTimePast, params)  // BIP34 height, lock times
 * const applied = applyBlock(block, height, view, params, { prevMedianTimePast, mtpAt, txids })
 * checkBlockSignatures(applied)                                 // or verifySigChecks in workers
 * ```
 * @module
 */
export * from './asert.ts'
export * from './check-block.ts'
export * from './check-tx.ts'
export * from './coins.ts'
export * from './context.ts'
export * from './genesis.ts'
export * from './inputs.ts'
export * from './merkle.ts'
export * from './params.ts'
export * from './pow.ts'
export * from './subsidy.ts'
export * from './verify-error.ts'
export * from './verify.ts'
