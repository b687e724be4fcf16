import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { PEERD_BIN } from '../utils/index.ts'

// The machines' system Node.js (often older than 22) is the runtime a user may start peerd with.
function oldNode (): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim()
      if (Number(version.slice(1).split('.')[0]) < 22) return candidate
    } catch { /* not there */ }
  }
  return undefined
}
const old = oldNode()

describe('the peerd command on an old Node.js', { skip: old == null ? 'no Node.js older than 22 on this machine' : false }, () => {
  it('refuses to run, saying which version it needs and how to get it', () => {
    const r = spawnSync(old as string, [PEERD_BIN, 'id'], { encoding: 'utf8' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /Node\.js 22 or newer is required, but this is v\d+/)
    assert.match(r.stderr, /npm start|npx peerd/)
    assert.equal(r.stdout, '')
  })
})
