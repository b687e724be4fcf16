/**
 * `npm run bench:onion:loopback`: onion throughput and relay CPU on loopback, no namespaces or
 * root needed. Three relay processes (the third with an exit edge) and a client in this process
 * download a blob from a TCP server here over one 3-hop circuit; it prints MiB/s per run and each
 * relay's CPU-seconds per relayed GiB (the CPU figure of issue 16's benchmark (e), measured per
 * process so a middle relay's own cost is visible apart from the client's and the exit's).
 *
 * Options: `--mib N` (blob size, default 5), `--runs N` (default 3), `--upload` (the client
 * sends the blob and the server answers its SHA-256, so relays carry forward cells), `--prof`
 * (relays write `--cpu-prof` profiles into ./prof-onion/). Hosts use the daemon's Noise and Yamux (net/transport.ts).
 * @module
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { peerdNoise, peerdYamux, tuneHeapForTransfers } from '../../src/net/transport.ts'
import { buildCircuit } from '../../src/onion/circuit.ts'
import { ExitEdge } from '../../src/onion/exit.ts'
import { LinkManager } from '../../src/onion/link.ts'
import { OnionRelay } from '../../src/onion/relay.ts'

const NETWORK = 'regtest'

async function host (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [peerdNoise()],
    streamMuxers: [peerdYamux()]
  })
}

interface Hello { peerId: string, addrs: string[], onionKey: string }
type Command = { op: 'dial', addrs: string[] } | { op: 'cpu' } | { op: 'stop' }

/** A relay process: answers the parent's commands over IPC. */
async function relayMain (exit: boolean): Promise<void> {
  const h = await host()
  const relay = new OnionRelay({ host: h, network: NETWORK })
  await relay.start()
  if (exit) new ExitEdge({ relay, network: NETWORK, exitEnabled: true, policy: { allows: (address) => address === '127.0.0.1' } })
  const send = (m: unknown): void => { process.send?.(m) }
  process.on('disconnect', () => { process.exit(1) }) // the bench died: do not outlive it
  process.on('message', (m: Command) => {
    void (async () => {
      if (m.op === 'dial') {
        await h.dial(m.addrs.map(a => multiaddr(a)))
        send({ op: 'dialed' })
      } else if (m.op === 'cpu') {
        const u = process.cpuUsage()
        send({ op: 'cpu', seconds: (u.user + u.system) / 1e6, cellsRelayed: relay.stats.cellsRelayed, bytesWritten: relay.links.stats.bytesWritten, cellsWritten: relay.links.stats.cellsWritten, writes: relay.links.stats.writes })
      } else {
        await relay.stop()
        await h.stop()
        process.exit(0)
      }
    })()
  })
  send({ peerId: h.peerId.toString(), addrs: h.getMultiaddrs().map(a => a.toString()), onionKey: Buffer.from(relay.onionKey).toString('hex') } satisfies Hello)
}

function once<T> (child: ChildProcess, pred: (m: any) => boolean): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const on = (m: unknown): void => { if (pred(m)) { child.off('message', on); resolve(m as T) } }
    child.on('message', on)
    child.once('exit', code => { reject(new Error(`relay exited with ${String(code)}`)) })
  })
}

interface CpuReport { seconds: number, cellsRelayed: number, bytesWritten: number, cellsWritten: number, writes: number }

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' }, upload: { type: 'boolean', default: false }, prof: { type: 'boolean', default: false } } })
  const upload = values.upload === true
  const size = Math.round(Number(values.mib) * 1024 * 1024)
  const runs = Number(values.runs)
  const execArgv = values.prof === true ? ['--cpu-prof', '--cpu-prof-dir=prof-onion'] : []
  const children = [0, 1, 2].map(i => fork(new URL(import.meta.url), [i === 2 ? 'exit' : 'relay'], { execArgv: [...process.execArgv, ...execArgv] }))
  const exited = children.map(async c => await new Promise(resolve => c.once('exit', resolve)))
  const hellos = await Promise.all(children.map(async c => await once<Hello>(c, m => m.peerId != null)))
  for (let i = 0; i < 2; i++) {
    const c = children[i] as ChildProcess
    c.send({ op: 'dial', addrs: (hellos[i + 1] as Hello).addrs } satisfies Command)
    await once(c, m => m.op === 'dialed')
  }
  const client = await host()
  await client.dial((hellos[0] as Hello).addrs.map(a => multiaddr(a)))
  const links = new LinkManager({ host: client, network: NETWORK })
  await links.start()
  const path = hellos.map(h => ({ peerId: peerIdFromString(h.peerId), onionKey: Uint8Array.from(Buffer.from(h.onionKey, 'hex')) }))

  const blob = randomBytes(size)
  const want = createHash('sha256').update(blob).digest('hex')
  const server = createServer(socket => {
    socket.on('error', () => {})
    if (!upload) { socket.end(blob); return }
    // upload: the blob's hash once all of it arrived (the client does not end its side first)
    const hash = createHash('sha256')
    let got = 0
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      got += chunk.length
      if (got === size) socket.end(hash.digest('hex'))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const cpu = async (): Promise<CpuReport[]> => await Promise.all(children.map(async c => {
    const p = once<CpuReport>(c, m => m.op === 'cpu')
    c.send({ op: 'cpu' } satisfies Command)
    return await p
  }))

  const circuit = await buildCircuit(links, path)
  console.log(`circuit built in ${circuit.buildMs.toFixed(0)} ms; a warm-up and ${runs} downloads of ${(size / 1048576).toFixed(1)} MiB`)
  const rates: number[] = []
  let before = await cpu()
  let clientCpu0 = process.cpuUsage()
  let total = 0
  for (let r = -1; r < runs; r++) {
    const t0 = performance.now()
    const stream = await circuit.openStream({ host: '127.0.0.1', port })
    const hash = createHash('sha256')
    let got = 0
    if (upload) stream.write(blob)
    const reply: Buffer[] = []
    for await (const chunk of stream) {
      if (upload) { reply.push(chunk as Buffer); continue }
      hash.update(chunk)
      got += chunk.length
    }
    const seconds = (performance.now() - t0) / 1000
    if (upload && Buffer.concat(reply).toString() !== want) throw new Error(`run ${r}: the server's hash is not the blob's`)
    if (upload) got = size
    else if (got !== size || hash.digest('hex') !== want) throw new Error(`run ${r}: got ${got} bytes, not the blob`)
    console.log(`${r < 0 ? 'warm-up' : `run ${r + 1}`}: ${(size / 1048576 / seconds).toFixed(2)} MiB/s (${seconds.toFixed(2)} s)`)
    if (r < 0) { before = await cpu(); clientCpu0 = process.cpuUsage(); continue } // the JIT's first run is not counted
    total += got
    rates.push(size / 1048576 / seconds)
  }
  const after = await cpu()
  const cu = process.cpuUsage(clientCpu0)
  const gib = total / 2 ** 30
  rates.sort((a, b) => a - b)
  console.log(`median ${(rates[Math.floor(rates.length / 2)] as number).toFixed(2)} MiB/s ${upload ? 'up' : 'down'} over 3 hops on loopback`)
  const names = ['guard', 'middle', 'exit']
  for (let i = 0; i < 3; i++) {
    const a = after[i] as CpuReport
    const b = before[i] as CpuReport
    console.log(`${(names[i] as string).padEnd(6)} ${((a.seconds - b.seconds) / gib).toFixed(1)} CPU-s/GiB relayed (${a.cellsRelayed - b.cellsRelayed} cells relayed, ${((a.bytesWritten - b.bytesWritten) / 1048576).toFixed(1)} MiB of cells written, ${((a.cellsWritten - b.cellsWritten) / Math.max(1, a.writes - b.writes)).toFixed(1)} cells a write)`)
  }
  console.log(`client ${((cu.user + cu.system) / 1e6 / gib).toFixed(1)} CPU-s/GiB received (this process, with the TCP server)`)
  circuit.destroy()
  for (const c of children) c.send({ op: 'stop' } satisfies Command)
  await links.stop()
  await client.stop()
  server.close()
  await Promise.all(exited)
}

tuneHeapForTransfers() // as the daemon does
const role = process.argv[2]
if (role === 'relay' || role === 'exit') await relayMain(role === 'exit')
else await main()
