/**
 * The send form: address, amount and fee rate, then a confirmation step that shows what will
 * be paid and asks for the wallet's passphrase. Nothing is sent before "Send now".
 */
import { useState } from 'preact/hooks'
import { post } from '../api.ts'
import { formatCoins } from '../format.ts'
import type { ChainState } from '../types.ts'
import { CopyButton, ErrorText, messageOf, Mono } from '../ui.tsx'

/** vbytes of a one-input, two-output P2TR payment: the fee estimate shown before sending. */
const TYPICAL_VSIZE = 154

type FeeChoice = 'low' | 'normal' | 'high' | 'custom'

function feeRates (chain: ChainState | undefined): Record<Exclude<FeeChoice, 'custom'>, number> {
  const min = Math.max(1, chain?.mempool.minFeeRate ?? 1)
  const normal = Math.max(min, chain?.feeEstimate ?? min)
  return { low: min, normal, high: Math.max(normal * 2, min + 1) }
}

/** Parses coins (`1.25`) into base units; null when it isn't a positive amount with ≤ 8 decimals. */
function parseCoins (text: string): number | null {
  const m = /^(\d{1,8})(?:\.(\d{1,8}))?$/.exec(text.trim())
  if (m == null) return null
  const units = Number(m[1]) * 1e8 + Number((m[2] ?? '').padEnd(8, '0') || '0')
  return units > 0 ? units : null
}

/** See the module comment. */
export function SendForm ({ chain, spendable }: { chain: ChainState | undefined, spendable: number }) {
  const [step, setStep] = useState<'edit' | 'confirm' | 'sent'>('edit')
  const [address, setAddress] = useState('')
  const [amount, setAmount] = useState('')
  const [fee, setFee] = useState<FeeChoice>('normal')
  const [custom, setCustom] = useState('')
  const [passphrase, setPassphrase] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [sent, setSent] = useState<{ txid: string, fee: number } | null>(null)
  const rates = feeRates(chain)
  const feeRate = fee === 'custom' ? Number(custom) : rates[fee]
  const units = parseCoins(amount)

  const review = (e: Event): void => {
    e.preventDefault()
    setError(null)
    if (units == null) { setError('The amount must be a positive number of coins with at most 8 decimals, e.g. 1.25.'); return }
    if (!(Number.isFinite(feeRate) && feeRate >= 1 && feeRate <= 1_000_000)) { setError('The fee rate must be from 1 to 1000000 base units per vbyte.'); return }
    setStep('confirm')
  }

  const send = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const r = await post<{ txid: string, fee: number }>('/api/v1/send', { address: address.trim(), amount: amount.trim(), feeRate, passphrase })
      setSent(r)
      setStep('sent')
      setPassphrase('')
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }

  if (step === 'sent' && sent != null) {
    return (
      <div class='send-done' role='status'>
        <p class='ok'>Sent {amount.trim()} coins with a fee of {formatCoins(sent.fee)}.</p>
        <p>Transaction <Mono>{sent.txid}</Mono> <CopyButton text={sent.txid} /></p>
        <button type='button' onClick={() => { setStep('edit'); setAddress(''); setAmount(''); setSent(null) }}>Send another payment</button>
      </div>
    )
  }

  if (step === 'confirm') {
    return (
      <form class='send-confirm' onSubmit={(e) => { void send(e) }} aria-describedby='send-summary'>
        <div id='send-summary' class='kv'>
          <div class='kv-row'><span class='kv-key'>Pay</span><strong>{amount.trim()} coins</strong></div>
          <div class='kv-row'><span class='kv-key'>To</span><Mono>{address.trim()}</Mono></div>
          <div class='kv-row'><span class='kv-key'>Fee rate</span><span>{feeRate} units/vB (about {formatCoins(feeRate * TYPICAL_VSIZE)} for a simple payment)</span></div>
        </div>
        <label for='send-passphrase'>Wallet passphrase</label>
        <input id='send-passphrase' type='password' autoComplete='current-password' required value={passphrase} onInput={(e) => { setPassphrase((e.target as HTMLInputElement).value) }} />
        <div class='row'>
          <button type='submit' disabled={busy}>{busy ? 'Sending…' : 'Send now'}</button>
          <button type='button' class='secondary' disabled={busy} onClick={() => { setStep('edit'); setError(null) }}>Back</button>
        </div>
        <ErrorText error={error} />
      </form>
    )
  }

  return (
    <form class='send-edit' onSubmit={review}>
      <label for='send-address'>Pay to address</label>
      <input id='send-address' required spellcheck={false} autoComplete='off' placeholder={chain?.network === 'main' ? 'pd1p…' : 'pdrt1p…'} value={address} onInput={(e) => { setAddress((e.target as HTMLInputElement).value) }} />
      <label for='send-amount'>Amount (coins)</label>
      <input id='send-amount' required inputMode='decimal' autoComplete='off' placeholder='1.25' value={amount} onInput={(e) => { setAmount((e.target as HTMLInputElement).value) }} aria-describedby='send-spendable' />
      <small id='send-spendable'>Spendable now: {formatCoins(spendable)} coins</small>
      <fieldset>
        <legend>Fee</legend>
        {(['low', 'normal', 'high'] as const).map(k => (
          <label class='radio' key={k}>
            <input type='radio' name='fee' value={k} checked={fee === k} onChange={() => { setFee(k) }} />
            {k === 'low' ? 'Low' : k === 'normal' ? 'Normal (next block)' : 'High'}: {rates[k]} units/vB
          </label>
        ))}
        <label class='radio'>
          <input type='radio' name='fee' value='custom' checked={fee === 'custom'} onChange={() => { setFee('custom') }} />
          Custom
        </label>
        {fee === 'custom' && (
          <>
            <label for='send-feerate'>Fee rate (base units per vbyte)</label>
            <input id='send-feerate' inputMode='numeric' value={custom} onInput={(e) => { setCustom((e.target as HTMLInputElement).value) }} />
          </>
        )}
      </fieldset>
      <button type='submit'>Review payment</button>
      <ErrorText error={error} />
    </form>
  )
}
