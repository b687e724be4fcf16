/** The login form: a token from `peerd dashboard`, or the whole link it printed. */
import { useState } from 'preact/hooks'
import { post } from '../api.ts'
import { ErrorText, messageOf } from '../ui.tsx'

/** Pulls the token out of what was pasted: the token itself or the whole link. */
function tokenOf (text: string): string {
  const t = text.trim()
  try {
    return new URL(t).searchParams.get('token') ?? t
  } catch {
    return t
  }
}

/** See the module comment. */
export function LoginPanel ({ onLogin, rejected }: { onLogin: () => void, rejected: boolean }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(rejected ? 'That login link was unknown, already used or expired. Run `peerd dashboard` again for a new one.' : null)
  const [busy, setBusy] = useState(false)

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await post('/api/v1/session', { token: tokenOf(token) })
      onLogin()
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class='login' id='main'>
      <h1>peerd dashboard</h1>
      <p>This dashboard is protected like the node's API. To open it, run this on the machine the node runs on:</p>
      <pre><code>peerd dashboard</code></pre>
      <p>
        (add <code>--data-dir DIR</code> for a node that doesn't use the default data dir). It prints a
        link that logs this browser in, once, within 10 minutes; on a desktop it opens the link for you.
        Or paste the link or its token here:
      </p>
      <form onSubmit={(e) => { void submit(e) }}>
        <label for='token'>Login token or link</label>
        <input
          id='token'
          name='token'
          autoComplete='off'
          spellcheck={false}
          required
          value={token}
          onInput={(e) => { setToken((e.target as HTMLInputElement).value) }}
        />
        <button type='submit' disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
      <ErrorText error={error} />
    </main>
  )
}
