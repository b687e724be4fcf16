/**
 * `peerd onion status|circuits|new-circuits` as a user runs them: the real CLI process against
 * the real onion routes (router, bearer cookie, the `api` and `cookie` files in a data dir)
 * over a fake onion service. Checks the numbers and hops the user reads, `--json`, and the
 * one-line errors with a non-zero exit.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { onionRoutes } from '../../../src/api/onion-routes.ts'
import { createRouter } from '../../../src/api/router.ts'
import { shortPeer } from '../../../src/cli/commands/onion.ts'
import type { PeerdNode } from '../../../src/node/node.ts'
import { dataDirPaths } from '../../../src/node/paths.ts'
import type { CircuitInfo, OnionStatus } from '../../../src/onion/types.ts'
import { errorOf } from '../../utils/cli.ts'
import { runCli, tempDir } from '../../utils/index.ts'
import { fakeOnion, HOPS } from '../../utils/onion-control.ts'

const COOKIE = 'c0ffee'

/** A daemon stand-in on `dataDir`: the onion routes of `node`, found through the api/cookie files. */
async function fakeDaemon (dataDir: string, node: object): Promise<Server> {
  const server = createServer(createRouter(onionRoutes(node as PeerdNode), {
    authenticate: (req) => req.headers.authorization === `Bearer ${COOKIE}` ? 'bearer' : undefined,
    body: { idleMs: 5000, totalMs: 5000 },
    onError: () => {}
  }))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const paths = dataDirPaths(dataDir)
  await writeFile(paths.api, `http://127.0.0.1:${(server.address() as AddressInfo).port}\n`)
  await writeFile(paths.cookie, COOKIE)
  return server
}

describe('peerd onion', () => {
  const onion = fakeOnion()
  let dir: Awaited<ReturnType<typeof tempDir>>
  let bare: Awaited<ReturnType<typeof tempDir>>
  const servers: Server[] = []
  const cli = async (dataDir: string, ...args: string[]) => await runCli(['onion', ...args, '--data-dir', dataDir])

  before(async () => {
    dir = await tempDir('peerd-onion-cli-')
    bare = await tempDir('peerd-onion-cli-')
    servers.push(await fakeDaemon(dir.path, { onion }), await fakeDaemon(bare.path, {}))
  })
  after(async () => {
    for (const s of servers) s.close()
    await dir.cleanup()
    await bare.cleanup()
  })

  it('status: relay on with its rate and traffic, the exit policy, SOCKS, relays, guards, circuits', async () => {
    const r = await cli(dir.path, 'status')
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    const line = (key: string): string => lines.find(l => l.startsWith(`${key}:`)) ?? assert.fail(`no "${key}:" line in\n${r.stdout}`)
    assert.match(line('relay'), /^relay: +on, capped at 1\.5 MB\/s; 3 circuits now, 20480 cells \(10\.0 MiB\) relayed/)
    assert.match(line('exit'), /^exit: +on$/)
    assert.match(line('exit policy'), /accept \*:80, accept \*:443, reject \*:\*$/)
    assert.match(line('socks'), /127\.0\.0\.1:9050$/)
    assert.match(line('relays known'), / 42$/)
    assert.match(line('circuits open'), / 2$/)
    assert.ok(lines.some(l => l.includes(HOPS.guard) && l.includes('reachable')), r.stdout)
    // values start in one column
    const cols = lines.filter(l => !l.startsWith(' ')).map(l => /^[a-z ]+: +/.exec(l)?.[0].length)
    assert.equal(new Set(cols).size, 1, r.stdout)
  })

  it('circuits: one row a circuit with its hops joined by arrows, build time, bytes, streams, dirty', async () => {
    const r = await cli(dir.path, 'circuits')
    assert.equal(r.code, 0, r.stderr)
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    assert.match(header ?? '', /^ID +PURPOSE +STATE +AGE +BUILD +SENT +RECEIVED +STREAMS +DIRTY +HOPS/)
    assert.equal(rows.length, 3)
    const c1 = rows.find(l => l.startsWith('c1 ')) ?? assert.fail(r.stdout)
    assert.ok(c1.endsWith(`this node → ${shortPeer(HOPS.guard)} → ${shortPeer(HOPS.middle)} → ${shortPeer(HOPS.exit)}`), c1)
    assert.match(c1, /^c1 +socks +open +1m35s +182 ms +5\.0 KiB +5\.0 MiB +1 +no /)
    const c3 = rows.find(l => l.startsWith('c3 ')) ?? assert.fail(r.stdout)
    assert.match(c3, /^c3 +socks +building +1s +- +0 B +0 B +0 +no /)
    assert.equal(shortPeer(HOPS.guard), '…AAAAAgd1')
  })

  it('new-circuits retires the open circuits, which circuits then shows dirty; --json gives the API\'s objects', async () => {
    const r = await cli(dir.path, 'new-circuits')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'retired 2 circuits: new streams use new circuits\n')
    const j = await cli(dir.path, 'circuits', '--json')
    const circuits = (JSON.parse(j.stdout) as { circuits: CircuitInfo[] }).circuits
    assert.deepEqual(circuits.map(c => [c.id, c.dirty]), [['c1', true], ['c2', true], ['c3', false]])
    const s = JSON.parse((await cli(dir.path, 'status', '--json')).stdout) as OnionStatus
    assert.equal(s.relaysKnown, 42)
    assert.deepEqual(JSON.parse((await cli(dir.path, 'new-circuits', '--json')).stdout), { retired: 0 })
  })

  it('a node without an onion service: one line, exit 1; --json gives the error object', async () => {
    const r = await cli(bare.path, 'status')
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, 'peerd: the onion service is not running on this node\n')
    const j = await cli(bare.path, 'circuits', '--json')
    assert.equal(j.code, 1)
    assert.deepEqual(errorOf(j), { name: 'NotStartedError', message: 'the onion service is not running on this node' })
  })

  it('an unknown subcommand or a missing one is a usage error (exit 2)', async () => {
    const r = await cli(dir.path, 'newnym')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown onion subcommand "newnym" \(use status, circuits, new-circuits, serve, services, stop or client-key\)/)
    assert.equal((await cli(dir.path)).code, 2)
  })
})
