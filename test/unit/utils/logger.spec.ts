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

  it('never writes a wallet extended key, whatever the field or message carries it', () => {
    const xpub = 'tpubDCvUehLFaoEqexm3VxvqGv1ZRg3k6Z9mq3ZpQ3WGMLKcZgnm9KRiKMG1TCSYDU2FVuu2L4UqpLNMgdm9oHQ6ntTbFfDmo2MDdMBwqH3Mm5Y'
    const lines: string[] = []
    const log = createLogger({ level: 'trace', pretty: false, write: l => lines.push(l) })
    log.info(`account ${xpub}`, { xpub, account: xpub, err: new Error(`bad key ${xpub}`), list: 'x' })
    createLogger({ level: 'trace', pretty: true, write: l => lines.push(l) }).warn('k', { key: `(${xpub})` })
    const text = lines.join('\n')
    assert.ok(!text.includes(xpub.slice(4, 40)), text)
    assert.match(text, /\[redacted\]/)
  })

  it('is silent at level silent', () => {
    const lines: string[] = []
    createLogger({ level: 'silent', write: l => lines.push(l) }).error('boom')
    assert.equal(lines.length, 0)
  })
})
