/**
 * `peerd onion serve|services|stop` as a user runs them: the real CLI process against the real
 * onion routes (router, bearer cookie, the `api` and `cookie` files in a data dir) over a fake
 * service host. Checks the address printed first, the table's columns, `--json`, what reached
 * the host, a client key pair, and the one-line errors with their exit codes (2 for usage, 1 for
 * the daemon's).
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
import { showServices } from '../../../src/cli/commands/onion-services.ts'
import type { PeerdNode } from '../../../src/node/node.ts'
import { dataDirPaths } from '../../../src/node/paths.ts'
import { hsClientAuthKeyPair, parseHsClientSecretKey } from '../../../src/onion/hs/client-auth.ts'
import type { HostedServiceInfo } from '../../../src/onion/hs/types.ts'
import { errorOf } from '../../utils/cli.ts'
import { runCli, tempDir } from '../../utils/index.ts'
import { fakeOnion } from '../../utils/onion-control.ts'
import { fakeServices, PUBLISHED } from '../../utils/onion-services.ts'

const COOKIE = 'c0ffee'
const KEYS = [hsClientAuthKeyPair().publicKey, hsClientAuthKeyPair().publicKey]

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

describe('peerd onion serve, services, stop', () => {
  const services = fakeServices([PUBLISHED])
  let dir: Awaited<ReturnType<typeof tempDir>>
  let server: Server
  const cli = async (...args: string[]) => await runCli(['onion', ...args, '--data-dir', dir.path])

  before(async () => {
    dir = await tempDir('peerd-onion-services-cli-')
    server = await fakeDaemon(dir.path, { onion: { ...fakeOnion(), services } })
  })
  after(async () => {
    server.close()
    await dir.cleanup()
  })

  it('serve prints the address alone on the first line, then what it serves; the host got the flags', async () => {
    const r = await cli('serve', '--target', '127.0.0.1:8080', '--name', 'shop', '--client', KEYS[0] as string, '--client', KEYS[1] as string, '--pow')
    assert.equal(r.code, 0, r.stderr)
    const [first, ...rest] = r.stdout.trimEnd().split('\n')
    assert.match(first ?? '', /^[a-z2-7]{56}\.peerd$/)
    assert.match(rest[0] ?? '', /^ {2}"shop" → 127\.0\.0\.1:8080; its descriptor is published once introduction points are up/)
    assert.deepEqual(rest.slice(1), ['  only 2 authorized clients can reach it', '  introductions need a client puzzle'])
    assert.deepEqual(services.served.at(-1), { target: '127.0.0.1:8080', name: 'shop', authorizedClients: KEYS, pow: true })
  })

  it('serve --json prints the whole service, address included; no --name lets the daemon pick it', async () => {
    const r = await cli('serve', '--target', 'localhost:3000', '--json')
    assert.equal(r.code, 0, r.stderr)
    const s = JSON.parse(r.stdout) as HostedServiceInfo
    assert.equal(s.name, 'web-3000')
    assert.match(s.address, /^[a-z2-7]{56}\.peerd$/)
    assert.equal(s.target, 'localhost:3000')
    assert.deepEqual(services.served.at(-1), { target: 'localhost:3000' })
  })

  it('services: one row a service with its address whole, intro points, publication age, clients, puzzle', async () => {
    const r = await cli('services')
    assert.equal(r.code, 0, r.stderr)
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    assert.match(header ?? '', /^NAME +ADDRESS +TARGET +INTRO +PUBLISHED +CLIENTS +POW$/)
    assert.deepEqual(rows.map(l => l.split(/ +/)[0]), ['blog', 'shop', 'web-3000'])
    const blog = rows[0] ?? ''
    assert.ok(blog.includes(` ${PUBLISHED.address} `), blog)
    assert.match(blog, / 127\.0\.0\.1:8080 +3 +\S+ ago +2 +on, effort 150$/)
    assert.match(rows[2] ?? '', / localhost:3000 +0 +not yet +anyone +off$/)
    const j = JSON.parse((await cli('services', '--json')).stdout) as { services: HostedServiceInfo[] }
    assert.deepEqual(j.services[0], PUBLISHED)
  })

  it('dates a publication as the time since it', () => {
    const now = (PUBLISHED.publishedAt as number) + 185_000
    assert.match(showServices([PUBLISHED], now)[1] ?? '', / 3m05s ago /)
    assert.deepEqual(showServices([]), ['no onion services (`peerd onion serve --target 127.0.0.1:8080` publishes one)'])
  })

  it('stop NAME stops it, says the address is kept; --json gives {"stopped"}; then it is gone', async () => {
    const r = await cli('stop', 'shop')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'stopped "shop"; its key stays in the data dir: serving "shop" again gives the same address\n')
    assert.deepEqual(JSON.parse((await cli('stop', 'web-3000', '--json')).stdout), { stopped: 'web-3000' })
    assert.deepEqual(services.stopped, ['shop', 'web-3000'])
    const j = JSON.parse((await cli('services', '--json')).stdout) as { services: HostedServiceInfo[] }
    assert.deepEqual(j.services.map(s => s.name), ['blog'])
  })

  it("the daemon's refusals: one line, exit 1 (a bad target, an unknown name); --json gives the error object", async () => {
    const calls = services.served.length
    const bad = await cli('serve', '--target', '127.0.0.1:99999')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^peerd: "target" must be host:port, e\.g\. 127\.0\.0\.1:8080 \(the port must be from 1 to 65535\): 127\.0\.0\.1:99999\n$/)
    assert.equal(services.served.length, calls)
    const unknown = await cli('stop', 'nope', '--json')
    assert.equal(unknown.code, 1)
    assert.deepEqual(errorOf(unknown), { name: 'NotFoundError', message: 'no onion service named "nope" on this node' })
    assert.deepEqual(services.stopped, ['shop', 'web-3000'])
  })

  it('client-key prints a new pair, public half first; --json gives {publicKey, secretKey}', async () => {
    const r = await cli('client-key')
    assert.equal(r.code, 0, r.stderr)
    const [pub, sec, ...note] = r.stdout.trimEnd().split('\n')
    assert.match(pub ?? '', /^public key: {2}descriptor:x25519:[a-z2-7]{52}$/)
    assert.match(sec ?? '', /^secret key: {2}descriptor:x25519-private:[a-z2-7]{52}$/)
    assert.match(note.join(' '), /peerd onion serve --client PUBLIC_KEY/)
    const j = JSON.parse((await cli('client-key', '--json')).stdout) as { publicKey: string, secretKey: string }
    assert.equal(hsClientAuthKeyPair(parseHsClientSecretKey(j.secretKey)).publicKey, j.publicKey)
    assert.notEqual(j.publicKey, (pub ?? '').split(/ +/)[2])
  })

  it('usage errors (exit 2): no --target, no NAME, a serve flag elsewhere, an extra argument', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['serve'], /missing --target HOST:PORT/],
      [['stop'], /usage: peerd onion stop NAME/],
      [['services', '--pow'], /--pow is for `peerd onion serve`, not `onion services`/],
      [['status', '--target', '127.0.0.1:80'], /--target is for `peerd onion serve`/],
      [['services', 'extra'], /unexpected argument "extra"/],
      [['circuits', 'extra'], /unexpected argument "extra"/],
      [['stop', 'a', 'b'], /unexpected argument "b"/],
      [['client-key', '--name', 'x'], /--name is for `peerd onion serve`/],
      [['client-key', 'extra'], /unexpected argument "extra"/]
    ]
    for (const [args, message] of cases) {
      const r = await cli(...args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message, args.join(' '))
    }
    assert.deepEqual(services.stopped, ['shop', 'web-3000'])
  })

  it('--help lists the services subcommands and their flags', async () => {
    const r = await cli('--help')
    assert.equal(r.code, 0)
    for (const s of ['peerd onion serve --target HOST:PORT', 'peerd onion services', 'peerd onion stop NAME', 'peerd onion client-key', '--client KEY', '--pow', '--name NAME']) assert.ok(r.stdout.includes(s), s)
  })
})
