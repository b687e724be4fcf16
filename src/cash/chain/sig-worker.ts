/**
 * Worker thread of {@link SigPool}: verifies packed signature checks with consensus
 * `verifySigChecks` and answers the index of the first invalid one (or -1).
 */
import { parentPort } from 'node:worker_threads'
import { verifySigChecks } from '../consensus/verify.ts'
import { unpackSigChecks } from './sig-pool.ts'
import type { SigJobRequest, SigJobResponse } from './sig-pool.ts'

const port = parentPort
if (port === null) throw new Error('sig-worker must run in a worker thread')
port.on('message', (req: SigJobRequest) => {
  let res: SigJobResponse
  try {
    res = { id: req.id, index: verifySigChecks(unpackSigChecks(req.packed, req.count)) }
  } catch (err) {
    res = { id: req.id, index: -1, error: (err as Error).message }
  }
  port.postMessage(res)
})
