/** `peerd chain info|block|tx` and `peerd mine`: the ledger. */
import type { Block, ChainInfo, Tx } from '../../api/types.ts'
import { formatCoins } from '../../cash/amount.ts'
import { UsageError } from '../../errors.ts'
import { ApiClient } from '../client.ts'
import { intOption } from '../command.ts'
import type { Command } from '../command.ts'
import { printJson, printLines } from '../output.ts'

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function showInfo (info: ChainInfo): string[] {
  return [
    `network:     ${info.network}`,
    `height:      ${info.height}`,
    `tip:         ${info.tip}`,
    `difficulty:  ${info.difficulty}`,
    `median time: ${new Date(info.medianTime * 1000).toISOString()}`,
    `mempool:     ${info.mempool.size} transactions`,
    `sync:        ${info.sync.syncing ? `syncing from ${info.sync.peer ?? '?'} (best seen ${info.sync.bestHeight})` : 'idle'}, ${info.sync.peers} chain peers`,
    `mining:      ${info.miner.mining ? `${info.miner.threads} threads, ${info.miner.hashRate} H/s, ${info.miner.blocksFound} found` : 'off'}`
  ]
}

function showBlock (b: Block): string[] {
  return [
    `block ${b.hash}`,
    `height:        ${b.height} (${b.confirmations > 0 ? plural(b.confirmations, 'confirmation') : 'not on the best chain'})`,
    `previous:      ${b.prevHash}`,
    `next:          ${b.nextHash ?? '-'}`,
    `time:          ${new Date(b.time * 1000).toISOString()}`,
    `bits:          ${b.bits} (difficulty ${b.difficulty})`,
    `merkle root:   ${b.merkleRoot}`,
    `size / weight: ${b.size} bytes / ${b.weight} WU`,
    `transactions:  ${b.txCount}`,
    ...b.txs.map((t) => `  ${t}`)
  ]
}

function showTx (t: Tx): string[] {
  return [
    `transaction ${t.txid}`,
    `block:   ${t.blockHash} (height ${t.height}, ${plural(t.confirmations, 'confirmation')})`,
    `size:    ${t.size} bytes, ${t.vsize} vbytes`,
    t.coinbase ? 'inputs:  coinbase' : 'inputs:',
    ...t.inputs.map((i) => `  ${i.txid}:${i.index}`),
    'outputs:',
    ...t.outputs.map((o, n) => `  #${n} ${formatCoins(o.amount)} → ${o.address ?? `script ${o.script}`}`)
  ]
}

export const chain: Command = {
  name: 'chain',
  summary: 'show the chain: info, a block (by hash or height) or a transaction',
  usage: 'chain info [--json]\n       peerd chain block HASH|HEIGHT [--json]\n       peerd chain tx TXID [--json]',
  options: {},
  args: { min: 1, max: 2 },
  async run (ctx) {
    const [sub, arg] = ctx.positionals
    const api = new ApiClient(ctx.dataDir)
    if (sub === 'info') {
      if (arg != null) throw new UsageError('chain info takes no argument')
      const info = await api.get<ChainInfo>('/api/v1/chain/info')
      if (ctx.json) printJson(info)
      else printLines(...showInfo(info))
      return 0
    }
    if (sub === 'block' || sub === 'tx') {
      if (arg == null) throw new UsageError(`chain ${sub} needs ${sub === 'block' ? 'a block hash or height' : 'a txid'}`)
      if (sub === 'block') {
        const b = await api.get<Block>(`/api/v1/chain/block?id=${encodeURIComponent(arg)}`)
        if (ctx.json) printJson(b)
        else printLines(...showBlock(b))
      } else {
        const t = await api.get<Tx>(`/api/v1/chain/tx?txid=${encodeURIComponent(arg)}`)
        if (ctx.json) printJson(t)
        else printLines(...showTx(t))
      }
      return 0
    }
    throw new UsageError(`unknown chain subcommand "${String(sub)}" (use info, block or tx)`)
  }
}

export const mine: Command = {
  name: 'mine',
  summary: 'mine blocks now (regtest) and print their hashes',
  usage: 'mine --blocks N [--address ADDRESS] [--json]',
  help: `  --blocks N          how many blocks to mine (1–10000)
  --address ADDRESS   the address the block rewards go to (default: the node's wallet)`,
  options: { blocks: { type: 'string' }, address: { type: 'string' } },
  args: { min: 0, max: 0 },
  async run (ctx) {
    const blocks = intOption(ctx.values, 'blocks', 1, 10_000)
    if (blocks == null) throw new UsageError('--blocks N is required')
    const address = ctx.values.address as string | undefined
    const r = await new ApiClient(ctx.dataDir).post<{ blocks: string[] }>('/api/v1/mine', { blocks, address })
    if (ctx.json) printJson(r)
    else printLines(...r.blocks)
    return 0
  }
}
