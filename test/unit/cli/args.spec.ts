import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { defaultDataDir, intOption, parseCommandArgs, splitCommand } from '../../../src/cli/command.ts'
import { COMMANDS } from '../../../src/cli/main.ts'

const cmd = (name: string) => COMMANDS.find(c => c.name === name) ?? assert.fail(`no command ${name}`)

describe('CLI arguments', () => {
  it('finds the command wherever the global --data-dir stands', () => {
    assert.deepEqual(splitCommand(['--data-dir', 'd', 'id', '--json']), { name: 'id', rest: ['--data-dir', 'd', '--json'] })
    assert.deepEqual(splitCommand(['id', '--data-dir', 'd']), { name: 'id', rest: ['--data-dir', 'd'] })
    assert.equal(splitCommand(['--json']).name, undefined)
  })

  it('rejects unknown flags and wrong argument counts as usage errors', () => {
    assert.throws(() => parseCommandArgs(cmd('id'), ['--frob']), (e: Error) => e.name === 'UsageError')
    assert.throws(() => parseCommandArgs(cmd('connect'), []), (e: Error) => e.name === 'UsageError' && /missing argument/.test(e.message))
    assert.throws(() => parseCommandArgs(cmd('id'), ['extra']), /unexpected argument "extra"/)
  })

  it('collects repeatable flags and resolves the data dir', () => {
    const ctx = parseCommandArgs(cmd('daemon'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--data-dir', 'rel'])
    assert.deepEqual(ctx.values.listen, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'])
    assert.ok(ctx.dataDir.endsWith('/rel') && ctx.dataDir.startsWith('/'))
    assert.equal(defaultDataDir({ PEERD_DATA_DIR: '/srv/peerd' }), '/srv/peerd')
    assert.ok(defaultDataDir({}).endsWith('/.peerd'))
  })

  it('validates whole-number flags', () => {
    assert.equal(intOption({ n: '5' }, 'n', 1, 64), 5)
    for (const bad of ['0', '65', '-1', '2.5', 'x']) assert.throws(() => intOption({ n: bad }, 'n', 1, 64), /--n takes a whole number/)
  })
})
