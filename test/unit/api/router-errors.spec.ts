/**
 * The router answers each error with the status its class maps to at the API's edge
 * (src/api/http-status.ts), over real HTTP: the library's errors carry no status.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { NotFoundError as ExporterNotFoundError } from 'ipfs-unixfs-exporter'
import { createRouter } from '../../../src/api/router.ts'
import type { Route } from '../../../src/api/router.ts'
import { VerifyError } from '../../../src/cash/consensus/verify-error.ts'
import { InvalidArgumentError } from '../../../src/errors.ts'
import { BlockWriteError, InvalidBlockError } from '../../../src/share/blockstore.ts'

const throwing: Array<[string, () => Error]> = [
  ['bad-argument', () => new InvalidArgumentError('bad')],
  ['refused-send', () => new VerifyError('tx', 'min-fee-not-met', 0)],
  ['no-such-entry', () => new ExporterNotFoundError('no entry named x')],
  ['peer-sent-bad-block', () => new InvalidBlockError('bytes do not match')],
  ['disk-full', () => new BlockWriteError('/data/blocks', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))],
  ['bug', () => new Error('unexpected')]
]

describe('API router: status by error class', () => {
  const logged: unknown[] = []
  const server = createServer(createRouter(
    throwing.map(([name, make]): Route => ({ method: 'GET', path: `/api/v1/${name}`, auth: false, handler: () => { throw make() } })),
    { authenticate: () => undefined, body: { idleMs: 1000, totalMs: 1000 }, onError: (err) => { logged.push(err) } }
  ))
  let base = ''

  before(async () => {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => { server.close() })

  it('answers each class with its status and name, and logs only its own failures', async () => {
    const expected: Record<string, [number, string]> = {
      'bad-argument': [400, 'InvalidArgumentError'],
      'refused-send': [400, 'VerifyError'],
      'no-such-entry': [404, 'NotFoundError'],
      'peer-sent-bad-block': [502, 'InvalidBlockError'],
      'disk-full': [507, 'BlockWriteError'],
      bug: [500, 'Error']
    }
    for (const [name, [status, errorName]] of Object.entries(expected)) {
      const res = await fetch(`${base}/api/v1/${name}`)
      const body = await res.json() as { error: { name: string } }
      assert.deepEqual([res.status, body.error.name], [status, errorName], name)
    }
    assert.deepEqual(logged.map(e => (e as Error).name), ['BlockWriteError', 'Error'])
  })
})
