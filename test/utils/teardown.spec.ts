/**
 * The test helper every suite cleans up with: closers run last first, all of them whatever
 * one of them does, each within its time limit, and a failure is reported once at the end.
 */
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { beforeEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Teardown, teardown, teardownEach } from './teardown.ts'

describe('Teardown', () => {
  it('runs closers last registered first, once', async () => {
    const td = new Teardown()
    const ran: number[] = []
    for (const i of [1, 2, 3]) td.add(() => { ran.push(i) })
    await td.run()
    await td.run()
    assert.deepEqual(ran, [3, 2, 1])
  })

  it('runs every closer when one throws, then throws naming it', async () => {
    const td = new Teardown()
    const ran: string[] = []
    td.add(() => { ran.push('first') })
    td.add(() => { throw new Error('boom') }, 'stop the broken node')
    td.add(async () => { ran.push('last') })
    await assert.rejects(td.run(), (err: Error) => err instanceof AggregateError && err.errors.length === 1 && /boom/.test(err.message))
    assert.deepEqual(ran, ['last', 'first'])
  })

  it('abandons a closer that hangs past its time limit and goes on', async () => {
    const td = new Teardown({ timeoutMs: 50 })
    const ran: string[] = []
    td.add(() => { ran.push('after the hang') })
    td.add(async () => { await new Promise(() => {}) }, 'stop the hung daemon')
    const started = Date.now()
    await assert.rejects(td.run(), /stop the hung daemon: still running after 50 ms/)
    assert.deepEqual(ran, ['after the hang'])
    assert.ok(Date.now() - started < 5_000)
  })

  it('removes its temporary dirs and stops what it was given', async () => {
    const td = new Teardown()
    const dir = await td.dir()
    let stopped = false
    td.node({ stop: async () => { await sleep(1); stopped = true } })
    await td.run()
    assert.equal(stopped, true)
    await assert.rejects(stat(dir), { code: 'ENOENT' })
  })

  it('teardown(t) runs when that test ends', async (t) => {
    let ran = false
    await t.test('inner', (inner) => { teardown(inner).add(() => { ran = true }) })
    assert.equal(ran, true)
  })

  describe('teardownEach()', () => {
    const td = teardownEach()
    let made = 0
    let closed = 0
    beforeEach(() => { made++; td.add(() => { closed++ }) })

    it('has nothing closed before the first test ends', () => { assert.deepEqual([made, closed], [1, 0]) })
    it('closed what the first test had before the second', () => { assert.deepEqual([made, closed], [2, 1]) })
  })
})
