/**
 * Onion routing between real `peerd daemon` processes on loopback (issue 16): five relays (one an
 * exit whose policy names a local HTTP server, one an exit with the default policy) and a client
 * with a SOCKS5 port. `curl --socks5-hostname` fetches a page through three hops; each relay's
 * log of the circuit names only its neighbours; the exit policy refuses private addresses by
 * default, on the address the exit resolved; after the middle relay is killed with SIGKILL the
 * next request succeeds over a new circuit; a replayed CREATE2 is refused and malformed cells
 * close the link without harming the relay.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { CELL_LEN, CellCommand, CellReader, HANDSHAKE_NTOR, encodeCell, encodeCreate2 } from '../../src/onion/cell.ts'
import type { Cell } from '../../src/onion/cell.ts'
import { onionLinkProtocol } from '../../src/onion/link.ts'
import { ntorClientCreate, ntorRelayId } from '../../src/onion/ntor.ts'
import { OnionKeyRing } from '../../src/onion/onion-keys.ts'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { CircuitInfo, OnionStatus } from '../../src/onion/types.ts'
import { cliJson, rawPeer, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const run = promisify(execFile)
const TEST = { timeout: 120_000 }
const page = Buffer.alloc(200_000, 'a page behind an exit ')
const pageHash = createHash('sha256').update(page).digest('hex')

/** The JSON log lines a daemon wrote to stderr. */
function logLines (d: DaemonProcess): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const line of d.stderr().split('\n')) {
    try { out.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not JSON */ }
  }
  return out
}

async function curl (socks: string, url: string): Promise<{ code: number, body: Buffer }> {
  try {
    const { stdout } = await run('curl', ['-sS', '--max-time', '40', '--socks5-hostname', socks, url], { encoding: 'buffer', maxBuffer: 10_000_000 })
    return { code: 0, body: stdout }
  } catch (err) {
    return { code: (err as { code: number }).code, body: Buffer.alloc(0) }
  }
}

/** Reads cells from a raw link stream into `into`. */
function collect (stream: Stream, into: Cell[]): void {
  const reader = new CellReader()
  void (async () => {
    try {
      for await (const chunk of stream) for (const c of reader.push(chunk.subarray())) into.push(c)
    } catch { /* the relay closed the link */ }
  })()
}

describe('onion routing between daemon processes', () => {
  const td = teardown()
  let relays: DaemonProcess[]
  let client: DaemonProcess
  let exit: DaemonProcess
  let socks: string
  let url: string
  let privatePort: number

  before(async () => {
    const server = createServer((_req, res) => { res.writeHead(200, { 'content-length': page.length }); res.end(page) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const second = createServer((_req, res) => { res.end('private') })
    await new Promise<void>(resolve => second.listen(0, '127.0.0.1', resolve))
    td.add(async () => {
      for (const s of [server, second]) { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }
    }, 'stop the http servers')
    const port = (server.address() as AddressInfo).port
    privatePort = (second.address() as AddressInfo).port
    url = `http://127.0.0.1:${port}/`
    const common = ['--log-level', 'debug', '--onion-relay-rate', '20MB']
    const first = td.daemon(await startDaemonProcess(await td.dir('peerd-onion-r0-'), common))
    const boot = ['--bootstrap', first.addresses[0] as string]
    const more = await Promise.all([
      startDaemonProcess(await td.dir('peerd-onion-r1-'), [...common, ...boot]),
      startDaemonProcess(await td.dir('peerd-onion-r2-'), [...common, ...boot]),
      // the default policy: private addresses refused
      startDaemonProcess(await td.dir('peerd-onion-r3-'), [...common, ...boot, '--onion-exit']),
      startDaemonProcess(await td.dir('peerd-onion-exit-'), [...common, ...boot, '--onion-exit', '--onion-exit-policy', `accept 127.0.0.1:${port},reject *:*`]),
      startDaemonProcess(await td.dir('peerd-onion-client-'), [...boot, '--log-level', 'debug', '--no-onion-relay', '--socks', '127.0.0.1:0'])
    ])
    for (const d of more) td.daemon(d)
    exit = more[3] as DaemonProcess
    client = more[4] as DaemonProcess
    relays = [first, ...more.slice(0, 4)]
    const status = await waitFor(async () => {
      const s = await cliJson<OnionStatus>(['onion', 'status', '--data-dir', client.dataDir])
      return s.relaysKnown >= 5 ? s : undefined
    }, { timeoutMs: 40_000, intervalMs: 500, what: 'the client to know the 5 relays' })
    assert.ok(status.socks != null)
    socks = status.socks
    assert.equal(status.relay.enabled, false)
  })
  after(async () => { await td.run() })

  it('curl --socks5-hostname fetches a page through three relays; each relay logs only its neighbours', TEST, async () => {
    const r = await curl(socks, url)
    assert.equal(r.code, 0)
    assert.equal(createHash('sha256').update(r.body).digest('hex'), pageHash)
    const { circuits } = await cliJson<{ circuits: CircuitInfo[] }>(['onion', 'circuits', '--data-dir', client.dataDir])
    const c = circuits.find(x => x.purpose === 'socks')
    assert.ok(c != null)
    assert.equal(c.hops.length, 3)
    assert.equal(c.hops[2]?.peerId, exit.peerId)
    // retire it so each relay logs the circuit's end with the peers it saw
    await cliJson(['onion', 'new-circuits', '--data-dir', client.dataDir])
    const byId = new Map(relays.map(d => [d.peerId, d]))
    for (const [i, hop] of c.hops.entries()) {
      const d = byId.get(hop.peerId) as DaemonProcess
      const expected = [i === 0 ? client.peerId : c.hops[i - 1]?.peerId, c.hops[i + 1]?.peerId].filter((p): p is string => p != null).sort()
      const line = await waitFor(() => logLines(d).find(l => l.msg === 'relayed circuit ended'), { timeoutMs: 30_000, what: `hop ${i}'s log of the circuit` })
      assert.deepEqual([...(line.peers as string[])].sort(), expected, `hop ${i}`)
      // and no log line of this relay names a peer of the circuit it was not next to
      const others = [client.peerId, ...c.hops.map(h => h.peerId)].filter(p => !expected.includes(p) && p !== hop.peerId)
      for (const l of logLines(d).filter(l => l.component === 'onion')) for (const p of others) assert.ok(!JSON.stringify(l).includes(p), `hop ${i} logged ${p}: ${JSON.stringify(l)}`)
    }
  })

  it('the default exit policy refuses a name that resolves to a private address, at the exit', TEST, async () => {
    // only r3 (default policy) accepts this port; it resolves "localhost" and refuses loopback
    const r = await curl(socks, `http://localhost:${privatePort}/`)
    assert.equal(r.code, 97, 'curl: the proxy refused the CONNECT')
    const r3 = relays[3] as DaemonProcess
    await waitFor(() => logLines(r3).find(l => l.msg === 'exit refused a stream' && l.reason === 'EXITPOLICY'), { timeoutMs: 10_000, what: 'the exit to log its refusal' })
  })

  it('a replayed CREATE2 is refused; malformed cells close the link and the relay keeps serving', TEST, async () => {
    const target = relays[1] as DaemonProcess
    const peer: Libp2p = td.node(await rawPeer())
    await peer.start()
    const ring = await OnionKeyRing.open(join(target.dataDir, 'onion'))
    const id = peerIdFromString(target.peerId)
    await peer.dial(multiaddr(target.addresses[0] as string))
    const stream = await peer.dialProtocol(id, onionLinkProtocol('regtest'))
    const got: Cell[] = []
    collect(stream, got)
    const { onionskin } = ntorClientCreate(ntorRelayId(publicKeyToProtobuf(id.publicKey as never)), ring.current().publicKey)
    const create = (circId: number): Uint8Array => encodeCell({ circId, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: HANDSHAKE_NTOR, handshake: onionskin }) })
    stream.send(create(0x80000001))
    await waitFor(() => got.find(c => c.circId === 0x80000001), { timeoutMs: 10_000, what: 'CREATED2' })
    assert.equal(got.find(c => c.circId === 0x80000001)?.command, CellCommand.CREATED2)
    stream.send(create(0x80000002))
    const second = await waitFor(() => got.find(c => c.circId === 0x80000002), { timeoutMs: 10_000, what: 'the answer to the replay' })
    assert.equal(second.command, CellCommand.DESTROY, 'the same onionskin again: refused')
    // a cell with an unknown command: the link closes, with a clear log line
    const bad = new Uint8Array(CELL_LEN)
    bad.set([0x80, 0, 0, 3, 0xee])
    stream.send(bad)
    await waitFor(() => logLines(target).find(l => l.msg === 'onion link closed on an error' && typeof l.error === 'string'), { timeoutMs: 10_000, what: 'the relay to log the malformed cell' })
    // still a relay: the client's next fetch works and the relay's API answers
    const s = await cliJson<OnionStatus>(['onion', 'status', '--data-dir', target.dataDir])
    assert.equal(s.relay.enabled, true)
  })

  it('after the middle relay is killed with SIGKILL, the next request succeeds over a new circuit', TEST, async () => {
    const first = await curl(socks, url)
    assert.equal(first.code, 0)
    const circuits = await cliJson<{ circuits: CircuitInfo[] }>(['onion', 'circuits', '--data-dir', client.dataDir])
    // the circuit of the page's fetch (its exit is the one whose policy names the server), not the refused one's
    const c = circuits.circuits.find(x => x.purpose === 'socks' && !x.dirty && x.hops[2]?.peerId === exit.peerId)
    assert.ok(c != null)
    const middle = relays.find(d => d.peerId === c.hops[1]?.peerId) as DaemonProcess
    await middle.kill()
    const next = await curl(socks, url)
    assert.equal(next.code, 0, `the request after the kill succeeds; client log: ${logLines(client).filter(l => l.component === 'onion').slice(-8).map(l => JSON.stringify(l)).join('\n')}`)
    assert.equal(createHash('sha256').update(next.body).digest('hex'), pageHash)
    const after = await cliJson<{ circuits: CircuitInfo[] }>(['onion', 'circuits', '--data-dir', client.dataDir])
    const now = after.circuits.find(x => x.purpose === 'socks' && !x.dirty && x.state === 'open')
    assert.ok(now != null)
    assert.notEqual(now.id, c.id)
    assert.ok(!now.hops.some(h => h.peerId === middle.peerId))
  })
})
