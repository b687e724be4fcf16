/**
 * peerd as a library: the same node the daemon runs, for programs that embed it.
 *
 * @example
 * ```ts
 * import { createNode } from 'peerd'
 *
 * const node = await createNode({ dataDir: './data', network: 'regtest', mdns: false })
 * console.log(node.peerId, node.addresses())
 * await node.connect('/ip4/127.0.0.1/tcp/9470/p2p/12D3Koo…')
 * console.log(node.peers())
 * await node.stop()
 * ```
 */
export { createNode, PeerdNode } from './node/node.ts'
export type { NatStatus, NodeOptions, NodeStatus, PeerSummary } from './node/node.ts'
export { resolveNodeConfig } from './node/config.ts'
export type { NodeConfig } from './node/config.ts'
export { readConfigFile, resolveDaemonConfig } from './daemon/config.ts'
export type { DaemonConfig } from './daemon/config.ts'
export { startDaemon } from './daemon/daemon.ts'
export type { Daemon } from './daemon/daemon.ts'
export { startDevnet } from './daemon/devnet.ts'
export type { Devnet, DevnetNode, DevnetOptions } from './daemon/devnet.ts'
export { networkParams, NETWORK_NAMES } from './net/networks.ts'
export type { NetworkName, NetworkParams } from './net/networks.ts'
/** Tunes V8's heap for bulk transfers, process-wide: the daemon does; an embedder may choose to. */
export { tuneHeapForTransfers } from './net/transport.ts'
export { createLogger } from './utils/logger.ts'
export type { Logger, LogLevel } from './utils/logger.ts'
export * from './errors.ts'
export * from './share/errors.ts'
/** Share links (`peerd://CID?provider=…`): a parsed link's `providers` go to `node.share.get(cid, { providers })`. */
export { formatLink, parseLink } from './share/link.ts'
export type { LinkStyle, ShareLink } from './share/link.ts'
export { OnionService } from './onion/service.ts'
export type { CircuitInfo, OnionControl, OnionStatus } from './onion/types.ts'
export { CircuitClosedError, HandshakeError, OnionLimitError } from './onion/errors.ts'
export { NoPathError } from './onion/directory-errors.ts'
export { StreamClosedError, StreamRefusedError } from './onion/stream-errors.ts'
export { ExitPolicyError } from './onion/exit-policy.ts'
export type { HostedServiceInfo, OnionServicesControl, ServeOptions } from './onion/hs/types.ts'
export { HsConfigError, HsNotFoundError, HsUnreachableError } from './onion/hs/connect-errors.ts'
export { HsClientNotAuthorizedError, HsDescriptorError, OnionAddressError } from './onion/hs/hs-errors.ts'
export { hsClientAuthKeyPair } from './onion/hs/client-auth.ts'
export { decodeOnionAddress, encodeOnionAddress, isOnionAddress } from './onion/hs/address.ts'
export { VERSION } from './version.ts'
