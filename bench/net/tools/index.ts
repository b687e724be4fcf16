/** The file-sharing tools the swarm scenarios drive: peerd, BitTorrent (aria2c) and IPFS (Helia). */
import type { Network } from '../harness/index.ts'
import { bittorrentTool, ensureAria2 } from './bittorrent.ts'
import { heliaTool } from './helia.ts'
import { peerdTool } from './peerd.ts'
import type { SwarmTool } from './swarm.ts'

export type { FetchTime, InputFile, SwarmTool } from './swarm.ts'
export { aria2Version, bittorrentTool, ensureAria2 } from './bittorrent.ts'
export { heliaTool } from './helia.ts'
export { peerdTool } from './peerd.ts'
export type { PeerdToolOptions } from './peerd.ts'

/** The tool called `name` (`peerd`, `bittorrent` or `helia`); installs aria2c when needed. */
export async function toolByName (name: string, net: Network): Promise<SwarmTool> {
  if (name === 'peerd') return peerdTool()
  if (name === 'helia') return heliaTool()
  if (name === 'bittorrent') {
    const why = await ensureAria2()
    if (why != null) throw new Error(why)
    return bittorrentTool(net)
  }
  throw new Error(`--tool must be peerd, bittorrent or helia, not "${name}"`)
}
