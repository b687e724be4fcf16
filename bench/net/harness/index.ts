/**
 * The net bench's harness: hosts as Linux network namespaces on a private bridged LAN, each
 * with its own uplink and downlink limits (tc tbf), each running real `peerd daemon` processes;
 * kill -9, restart, partition and heal. Needs root.
 *
 * ```ts
 * await requireNet()                       // exits 2 with the reason when not root, no iproute2…
 * janitor.installHandlers()                // clean up on Ctrl-C, SIGTERM, uncaught errors, exit
 * removeStale()                            // leftovers of runs that were killed hard
 * try {
 *   const net = await Network.create([{ upMbit: 20, downMbit: 200 }, { upMbit: 20, downMbit: 200 }])
 *   const dir = await tempDir('demo')
 *   const [a, b] = await startDaemons(net.hosts, dir.path)  // b bootstrapped to a
 *   const cid = await a.share('/abs/path/file')
 *   const { seconds } = await b.get(cid, join(dir.path, 'out'))
 *   await net.partition([[net.hosts[0]], [net.hosts[1]]])   // a and b cannot reach each other
 *   await net.heal()
 *   await a.kill(); await a.start()        // kill -9 and restart, same peer id and address
 * } finally {
 *   await janitor.cleanup()                // every process, namespace, link and directory
 * }
 * ```
 */
export { janitor, removeStale, PREFIX } from './janitor.ts'
export type { Undo } from './janitor.ts'
export { HUB_IP, Network, netUnavailable, requireNet, SUBNET } from './network.ts'
export type { HostSpec, LinkCounters, NetHost } from './network.ts'
export { PEERD_BIN, PEERD_PORT, PeerdDaemon, startDaemons } from './daemon.ts'
export type { DaemonOptions, GetOutcome } from './daemon.ts'
export { spawnIn, runIn, tail } from './proc.ts'
export type { NsProcess } from './proc.ts'
export { sha256File, tempDir, writeRandomFile } from './files.ts'
