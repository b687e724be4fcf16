/**
 * Worker thread of {@link Signer}: BIP340-signs packed 32-byte messages with tiny-secp256k1
 * (libsecp256k1 in WASM, several times faster than @noble/curves at signing) and zero
 * auxiliary randomness, so a prepared chain is the same on every run.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { signSchnorr } from 'tiny-secp256k1'
import type { SignRequest, SignResponse } from './signer.ts'

const port = parentPort
if (port === null) throw new Error('sign-worker must run in a worker thread')
const secrets = workerData as Uint8Array[]
const AUX = new Uint8Array(32)

port.on('message', (req: SignRequest) => {
  const sigs = new Uint8Array(req.keys.length * 64)
  try {
    for (let i = 0; i < req.keys.length; i++) {
      const key = secrets[req.keys[i] as number]
      if (key === undefined) throw new RangeError(`no key ${req.keys[i]}`)
      sigs.set(signSchnorr(req.msgs.subarray(i * 32, i * 32 + 32), key, AUX), i * 64)
    }
    port.postMessage({ id: req.id, sigs } satisfies SignResponse, [sigs.buffer])
  } catch (err) {
    port.postMessage({ id: req.id, sigs: new Uint8Array(0), error: (err as Error).message } satisfies SignResponse)
  }
})
