/** Creating a wallet (its recovery words are shown once) or restoring one from its words. */
import { useState } from 'preact/hooks'
import { post } from '../api.ts'
import { ErrorText, messageOf, Section } from '../ui.tsx'

/** The recovery words of a wallet just created, until the user says they wrote them down. */
export function MnemonicNotice ({ words, onDone }: { words: string, onDone: () => void }) {
  return (
    <Section title='Your recovery words' id='mnemonic'>
      <p><strong>Write these 24 words down and keep them safe.</strong> They restore the wallet on any node, and this is the only time they are shown.</p>
      <p class='mnemonic'>{words}</p>
      <button type='button' onClick={onDone}>I have written them down</button>
    </Section>
  )
}

/** See the module comment. */
export function WalletSetup ({ onCreated }: { onCreated: (mnemonic: string) => void }) {
  return (
    <>
      <p>This node has no wallet yet.</p>
      <div class='grid-2'>
        <Section title='Create a wallet'><CreateForm onCreated={onCreated} /></Section>
        <Section title='Restore a wallet'><RestoreForm /></Section>
      </div>
    </>
  )
}

function CreateForm ({ onCreated }: { onCreated: (mnemonic: string) => void }) {
  const [pass, setPass] = useState('')
  const [again, setAgain] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (pass !== again) { setError('The two passphrases differ.'); return }
    setBusy(true)
    setError(null)
    try {
      onCreated((await post<{ mnemonic: string }>('/api/v1/wallet/create', { passphrase: pass })).mnemonic)
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form onSubmit={(e) => { void submit(e) }}>
      <p class='muted'>The passphrase encrypts the keys on disk; every payment asks for it.</p>
      <label for='create-pass'>Passphrase</label>
      <input id='create-pass' type='password' autoComplete='new-password' required value={pass} onInput={(e) => { setPass((e.target as HTMLInputElement).value) }} />
      <label for='create-again'>Passphrase again</label>
      <input id='create-again' type='password' autoComplete='new-password' required value={again} onInput={(e) => { setAgain((e.target as HTMLInputElement).value) }} />
      <button type='submit' disabled={busy}>{busy ? 'Creating…' : 'Create wallet'}</button>
      <ErrorText error={error} />
    </form>
  )
}

function RestoreForm () {
  const [words, setWords] = useState('')
  const [pass, setPass] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await post('/api/v1/wallet/restore', { mnemonic: words.trim().split(/\s+/).join(' '), passphrase: pass })
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form onSubmit={(e) => { void submit(e) }}>
      <label for='restore-words'>Recovery words</label>
      <textarea id='restore-words' rows={3} required spellcheck={false} autoComplete='off' value={words} onInput={(e) => { setWords((e.target as HTMLTextAreaElement).value) }} />
      <label for='restore-pass'>New passphrase</label>
      <input id='restore-pass' type='password' autoComplete='new-password' required value={pass} onInput={(e) => { setPass((e.target as HTMLInputElement).value) }} />
      <button type='submit' disabled={busy}>{busy ? 'Restoring…' : 'Restore wallet'}</button>
      <ErrorText error={error} />
    </form>
  )
}
