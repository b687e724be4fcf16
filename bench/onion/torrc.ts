/**
 * The torrc lines and keys of the onion bench's private Tor network (`tor-network.ts`), after
 * chutney's torrc templates and /work/shared/notes/private-tor-network.md: the options every node
 * shares, each role's own, and a directory authority's keys.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { NetHost } from '../net/harness/index.ts'

const exec = promisify(execFile)

/** Where one tor runs: a host (its namespace) and the address it binds (the host's, or a loopback one). */
export interface TorPlace {
  host: NetHost
  ip: string
}

/** Options every node of the network shares (chutney's common.i, the notes' list). */
export function commonTorrc (dataDir: string, nickname: string, resolvConf: string): string[] {
  return [
    'TestingTorNetwork 1',
    'AssumeReachable 1',
    'PathsNeededToBuildCircuits 0.67',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteGuard *',
    'TestingDirAuthVoteHSDir *',
    'TestingMinExitFlagThreshold 0',
    'V3AuthNIntervalsValid 2',
    `DataDirectory ${dataDir}`,
    `Nickname ${nickname}`,
    'ShutdownWaitLength 0',
    `ControlPort unix:${join(dataDir, 'control')}`,
    'CookieAuthentication 1',
    `ServerDNSResolvConfFile ${resolvConf}`,
    'ServerDNSDetectHijacking 0',
    'Log notice stdout',
    'SafeLogging 0',
    'LogTimeGranularity 1'
  ]
}

/** A directory authority's own lines. */
export function authorityTorrc (nickname: string): string[] {
  return [
    'AuthoritativeDirectory 1', 'V3AuthoritativeDirectory 1', `ContactInfo ${nickname}@test.test`,
    // a fast first vote (no consensus yet), then the notes' tested 20 s interval
    'TestingV3AuthInitialVotingInterval 5', 'TestingV3AuthInitialVoteDelay 2', 'TestingV3AuthInitialDistDelay 2',
    'V3AuthVotingInterval 20', 'V3AuthVoteDelay 4', 'V3AuthDistDelay 4',
    'ExitPolicy reject *:*'
  ]
}

/** A relay's exit policy: an exit accepts `exitPort` only (a policy naming one private address was never chosen in namespaces). */
export function relayPolicy (exitPort: number | undefined): string[] {
  return exitPort != null
    ? ['ExitRelay 1', 'ExitPolicyRejectPrivate 0', `ExitPolicy accept *:${exitPort}`, 'ExitPolicy reject *:*']
    : ['ExitRelay 0', 'ExitPolicy reject *:*']
}

/**
 * Lines of a tor that only builds circuits (the client, the onion service): `avoid` keeps the
 * authorities out of its paths; `fullDescriptors` for a client that must see an exit's policy.
 */
export function clientTorrc (options: { socksPort?: number, avoid?: string[], fullDescriptors?: boolean }): string[] {
  return [
    options.socksPort != null ? `SocksPort 127.0.0.1:${options.socksPort}` : 'SocksPort 0',
    // an exit policy naming one private address reads as `reject 1-65535` in microdescriptors;
    // onion-service circuits need no exit, so those tors keep tor's default
    ...(options.fullDescriptors === true ? ['UseMicrodescriptors 0'] : []),
    // fixed timeouts: an adaptive one learned on shaped links would abandon slow builds
    'LearnCircuitBuildTimeout 0', 'CircuitBuildTimeout 60',
    ...(options.avoid != null && options.avoid.length > 0 ? [`ExcludeNodes ${options.avoid.join(',')}`] : [])
  ]
}

/**
 * Makes an authority's keys (identity and signing key with tor-gencert, its relay key with
 * `tor --list-fingerprint`) in `dataDir/keys` and returns its `DirAuthority` line.
 */
export async function authorityKeys (node: { name: string, dataDir: string, ip: string, orPort: number, dirPort: number }): Promise<string> {
  const keys = join(node.dataDir, 'keys')
  await new Promise<void>((resolve, reject) => {
    const p = execFile('tor-gencert', ['--create-identity-key', '-m', '12', '-a', `${node.ip}:${node.dirPort}`, '--passphrase-fd', '0'], { cwd: keys }, err => { if (err == null) resolve(); else reject(err) })
    p.stdin?.end('\n')
  })
  const cert = await readFile(join(keys, 'authority_certificate'), 'utf8')
  const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(cert)?.[1]
  const listed = (await exec('tor', ['--list-fingerprint', '--DataDirectory', node.dataDir, '--ORPort', String(node.orPort), '--Nickname', node.name])).stdout
  const rsa = new RegExp(`^${node.name} ((?:[0-9A-F]{4} ?){10})$`, 'm').exec(listed)?.[1]?.replaceAll(' ', '')
  if (v3ident == null || rsa == null) throw new Error(`could not read the keys of ${node.name}: ${listed.slice(-500)}`)
  return `DirAuthority ${node.name} orport=${node.orPort} no-v2 v3ident=${v3ident} ${node.ip}:${node.dirPort} ${rsa}`
}
