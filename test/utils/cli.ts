/** Assertions and small helpers shared by the CLI end-to-end tests. */
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { CliResult } from './index.ts'

/** The `error` object of a failed `--json` run. */
export interface ErrorBody { name: string, message: string }

/** Parses the `{"error": …}` a failed `--json` run prints on stdout, asserting its shape. */
export function errorOf (r: CliResult): ErrorBody {
  let v: { error?: ErrorBody }
  try {
    v = JSON.parse(r.stdout) as { error?: ErrorBody }
  } catch {
    assert.fail(`stdout is not JSON: ${JSON.stringify(r.stdout)} (stderr: ${r.stderr})`)
  }
  assert.ok(v.error != null, `no "error" in ${r.stdout}`)
  assert.equal(typeof v.error.name, 'string')
  assert.equal(typeof v.error.message, 'string')
  return v.error
}

/** Asserts the process exited by itself with a non-zero code. */
export function assertFailed (r: CliResult): void {
  assert.notEqual(r.code, null, `the process did not exit by itself (killed after the timeout): ${r.stdout}${r.stderr}`)
  assert.notEqual(r.code, 0, `expected a non-zero exit: ${r.stdout}${r.stderr}`)
}

/** Whether a file or folder exists at `path`. */
export async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/** A valid peer id of nobody. */
export async function randomPeerId (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}
