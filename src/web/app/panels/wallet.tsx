/**
 * Wallet: balances, a receive address with its QR code, sending (a form, then a confirmation
 * with the passphrase), and the history. Without a wallet: create one or restore one.
 */
import { useState } from 'preact/hooks'
import { post } from '../api.ts'
import { Qr } from '../components/qr.tsx'
import { ago, formatCoins, shortId } from '../format.ts'
import type { FeedState, HistoryEntry } from '../types.ts'
import { CopyButton, Empty, ErrorText, messageOf, Mono, Section, Stat, Stats } from '../ui.tsx'
import { SendForm } from './wallet-send.tsx'
import { MnemonicNotice, WalletSetup } from './wallet-setup.tsx'

/** Recovery words just shown, kept while the user moves between panels. */
let pendingMnemonic: string | null = null

/** See the module comment. */
export function WalletPanel ({ state }: { state: FeedState }) {
  const [mnemonic, setMnemonic] = useState(pendingMnemonic)
  const remember = (m: string | null): void => { pendingMnemonic = m; setMnemonic(m) }
  const w = state.wallet
  const notice = mnemonic != null && <MnemonicNotice words={mnemonic} onDone={() => { remember(null) }} />
  if (w == null) return <div class='panel'><Empty>Loading the wallet…</Empty></div>
  if (!w.exists) return <div class='panel'>{notice}<WalletSetup onCreated={remember} /></div>
  return (
    <div class='panel'>
      {notice}
      <Section title='Balance' id='balance'>
        <Stats>
          <Stat id='confirmed' label='Spendable' value={formatCoins(w.confirmed)} />
          <Stat id='unconfirmed' label='Unconfirmed' value={formatCoins(w.unconfirmed)} />
          <Stat id='immature' label='Immature (new coinbase)' value={formatCoins(w.immature)} />
          <Stat id='total' label='Total' value={formatCoins(w.confirmed + w.unconfirmed + w.immature)} />
        </Stats>
      </Section>
      <div class='grid-2'>
        <Section title='Receive'><Receive /></Section>
        <Section title='Send' id='send'><SendForm chain={state.chain} spendable={w.confirmed} /></Section>
      </div>
      <Section title='History' id='history'>
        <History entries={state.walletHistory ?? []} />
      </Section>
    </div>
  )
}

function Receive () {
  const [address, setAddress] = useState<string | null>(() => sessionStorage.getItem('peerd-receive-address'))
  const [error, setError] = useState<string | null>(null)
  const fresh = async (): Promise<void> => {
    setError(null)
    try {
      const r = await post<{ address: string }>('/api/v1/wallet/address')
      sessionStorage.setItem('peerd-receive-address', r.address)
      setAddress(r.address)
    } catch (err) {
      setError(messageOf(err))
    }
  }
  return (
    <div class='receive'>
      {address != null
        ? (
          <>
            <Qr text={address} label={`QR code of the address ${address}`} />
            <p><Mono>{address}</Mono> <CopyButton text={address} /></p>
          </>
          )
        : <p class='muted'>Give a payer a fresh address of this wallet.</p>}
      <button type='button' onClick={() => { void fresh() }}>{address != null ? 'Another new address' : 'Show a receive address'}</button>
      <ErrorText error={error} />
    </div>
  )
}

function History ({ entries }: { entries: HistoryEntry[] }) {
  if (entries.length === 0) return <Empty>No transactions yet.</Empty>
  return (
    <div class='table-wrap'>
      <table id='history-table'>
        <caption class='sr-only'>Wallet transactions, newest first</caption>
        <thead><tr><th scope='col'>When</th><th scope='col'>Transaction</th><th scope='col'>Amount</th><th scope='col'>Fee</th><th scope='col'>Confirmations</th></tr></thead>
        <tbody>
          {entries.map(e => (
            <tr key={e.txid} data-txid={e.txid}>
              <td title={new Date(e.time * 1000).toLocaleString()}>{ago(e.time)}</td>
              <td>
                {e.confirmations > 0
                  ? <a href={`#chain/tx/${e.txid}`} aria-label={`Transaction ${e.txid}`}><Mono title={e.txid}>{shortId(e.txid, 10, 8)}</Mono></a>
                  : <Mono title={e.txid}>{shortId(e.txid, 10, 8)}</Mono>}
                {e.coinbase && ' (mined)'}
              </td>
              <td class={e.amount >= 0 ? 'plus' : 'minus'}>{(e.amount > 0 ? '+' : '') + formatCoins(e.amount)}</td>
              <td>{e.fee == null ? '–' : formatCoins(e.fee)}</td>
              <td>{e.confirmations === 0 ? 'unconfirmed' : String(e.confirmations)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
