/** `peerd wallet create|restore|mnemonic|address|balance|history` and `peerd send`. */
import { readFile } from 'node:fs/promises'
import type { Balance, HistoryEntry } from '../../api/types.ts'
import { formatCoins, parseCoins } from '../../cash/amount.ts'
import { UsageError } from '../../errors.ts'
import { ApiClient } from '../client.ts'
import type { Command } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'
import { readPassphrase } from '../passphrase.ts'

const PASS_HELP = `  --passphrase-file FILE   read the wallet passphrase from FILE (first line); else
                           $PEERD_WALLET_PASSPHRASE, else a prompt on the terminal`

export const wallet: Command = {
  name: 'wallet',
  summary: "the node's wallet: create, restore, mnemonic, address, balance, history",
  usage: 'wallet create [--passphrase-file F] [--json]\n       peerd wallet restore --mnemonic-file F [--passphrase-file F] [--json]\n       peerd wallet mnemonic [--passphrase-file F] [--json]\n       peerd wallet address|balance|history [--json]',
  help: `${PASS_HELP}
  --mnemonic-file FILE     (restore) the file holding the recovery words`,
  options: { 'passphrase-file': { type: 'string' }, 'mnemonic-file': { type: 'string' } },
  args: { min: 1, max: 1 },
  async run (ctx) {
    const sub = ctx.positionals[0]
    const api = new ApiClient(ctx.dataDir)
    const passFile = ctx.values['passphrase-file'] as string | undefined
    switch (sub) {
      case 'create': {
        const passphrase = await readPassphrase({ file: passFile, confirm: true })
        const r = await api.post<{ mnemonic: string, address: string }>('/api/v1/wallet/create', { passphrase })
        if (ctx.json) printJson(r)
        else {
          printLines('wallet created. Write these recovery words down and keep them safe:', '', `  ${r.mnemonic}`, '',
            'With them (and no passphrase) anyone can spend the coins; without them a lost data dir',
            'means lost coins. `peerd wallet mnemonic` shows them again, given the passphrase.', '', `first address: ${r.address}`)
        }
        return 0
      }
      case 'restore': {
        const file = ctx.values['mnemonic-file'] as string | undefined
        if (file == null) throw new UsageError('wallet restore needs --mnemonic-file FILE (words on the command line would end up in shell history)')
        let mnemonic: string
        try {
          mnemonic = (await readFile(file, 'utf8')).trim().split(/\s+/).join(' ')
        } catch (err) {
          throw new UsageError(`cannot read the mnemonic file ${file}: ${(err as Error).message}`)
        }
        const passphrase = await readPassphrase({ file: passFile, confirm: true })
        const r = await api.post<{ address: string }>('/api/v1/wallet/restore', { mnemonic, passphrase })
        if (ctx.json) printJson(r)
        else printLines('wallet restored; the chain was rescanned for its coins', `first address: ${r.address}`)
        return 0
      }
      case 'mnemonic': {
        const passphrase = await readPassphrase({ file: passFile })
        const r = await api.post<{ mnemonic: string }>('/api/v1/wallet/mnemonic', { passphrase })
        if (ctx.json) printJson(r)
        else printLines('the recovery words of this wallet (keep them secret):', '', `  ${r.mnemonic}`)
        return 0
      }
      case 'address': {
        const r = await api.post<{ address: string }>('/api/v1/wallet/address', {})
        if (ctx.json) printJson(r)
        else printLines(r.address)
        return 0
      }
      case 'balance': {
        const b = await api.get<Balance>('/api/v1/wallet/balance')
        if (ctx.json) printJson(b)
        else printLines(`confirmed:   ${formatCoins(b.confirmed)}`, `unconfirmed: ${formatCoins(b.unconfirmed)}`, `immature:    ${formatCoins(b.immature)}`)
        return 0
      }
      case 'history': {
        const h = await api.get<HistoryEntry[]>('/api/v1/wallet/history')
        if (ctx.json) printJson(h)
        else if (h.length === 0) printLines('no transactions yet')
        else {
          printLines(...table(['TXID', 'AMOUNT', 'FEE', 'CONFIRMATIONS', 'TIME', 'PRIVATE'], h.map((e) => [
            e.txid, (e.amount > 0 ? '+' : '') + formatCoins(e.amount), e.fee == null ? '-' : formatCoins(e.fee),
            e.height == null ? 'unconfirmed' : String(e.confirmations), new Date(e.time * 1000).toISOString(), privateText(e)
          ])))
        }
        return 0
      }
      default:
        throw new UsageError(`unknown wallet subcommand "${String(sub)}" (use create, restore, mnemonic, address, balance or history)`)
    }
  }
}

/** A payment's private broadcast in a word or three: `via 3, seen back`, `fell back to gossip`, `-`. */
function privateText (e: HistoryEntry): string {
  const pb = e.privateBroadcast
  if (pb == null) return '-'
  if (pb.fellBackAt != null) return 'fell back to gossip'
  return `via ${pb.sentVia}${pb.seenBackAt != null ? ', seen back' : ''}`
}

export const send: Command = {
  name: 'send',
  summary: 'pay AMOUNT coins (a decimal, e.g. 1.25) to ADDRESS from the wallet',
  usage: 'send ADDRESS AMOUNT [--fee-rate R] [--passphrase-file F] [--json]',
  help: `  --fee-rate R             fee in base units per virtual byte (default: the node's estimate)
${PASS_HELP}`,
  options: { 'fee-rate': { type: 'string' }, 'passphrase-file': { type: 'string' } },
  args: { min: 2, max: 2 },
  async run (ctx) {
    const [address, amountText] = ctx.positionals as [string, string]
    const amount = parseCoins(amountText) // bad amounts fail here, before the passphrase is asked
    const rate = ctx.values['fee-rate']
    let feeRate: number | undefined
    if (rate != null) {
      feeRate = Number(rate)
      if (typeof rate !== 'string' || !/^\d+(\.\d+)?$/.test(rate) || !(feeRate >= 1 && feeRate <= 1_000_000)) throw new UsageError(`--fee-rate takes base units per vbyte from 1 to 1000000, not "${String(rate)}"`)
    }
    const passphrase = await readPassphrase({ file: ctx.values['passphrase-file'] as string | undefined })
    const r = await new ApiClient(ctx.dataDir).post<{ txid: string, fee: number, privateBroadcast?: HistoryEntry['privateBroadcast'] }>('/api/v1/send', { address, amount: formatCoins(amount), feeRate, passphrase })
    if (ctx.json) printJson({ txid: r.txid, fee: r.fee, ...(r.privateBroadcast != null ? { privateBroadcast: r.privateBroadcast } : {}) })
    else {
      printLines(`sent ${formatCoins(amount)} to ${address} (fee ${formatCoins(r.fee)})`, `txid ${r.txid}`,
        ...(r.privateBroadcast != null ? ['broadcast privately through onion circuits; `peerd wallet history` shows when it is seen back'] : []))
    }
    return 0
  }
}
