import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLogger } from '../../../src/utils/logger.ts'

describe('logger', () => {
  it('writes JSON lines at or above its level, with the component', () => {
    const lines: string[] = []
    const log = createLogger({ level: 'info', pretty: false, write: l => lines.push(l) }).child('net')
    log.debug('hidden')
    log.info('shown', { peers: 3 })
    assert.equal(lines.length, 1)
    const v = JSON.parse(lines[0] as string)
    assert.equal(v.level, 'info')
    assert.equal(v.component, 'net')
    assert.equal(v.msg, 'shown')
    assert.equal(v.peers, 3)
  })

  it('never writes secrets', () => {
    const lines: string[] = []
    const log = createLogger({ level: 'trace', pretty: false, write: l => lines.push(l) })
    log.info('x', { cookie: 'c00k1e', passphrase: 'hunter2', privateKey: 'k3y', mnemonic: 'abandon abandon' })
    const text = lines.join('\n')
    for (const secret of ['c00k1e', 'hunter2', 'k3y', 'abandon']) assert.ok(!text.includes(secret), secret)
  })

  it('is silent at level silent', () => {
    const lines: string[] = []
    createLogger({ level: 'silent', write: l => lines.push(l) }).error('boom')
    assert.equal(lines.length, 0)
  })
})
