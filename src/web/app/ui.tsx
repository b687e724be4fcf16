/** Small building blocks shared by the panels. */
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'

/** A labelled value in a card. */
export function Stat ({ label, value, hint, id }: { label: string, value: ComponentChildren, hint?: ComponentChildren, id?: string }) {
  return (
    <div class='stat' data-stat={id}>
      <dt>{label}</dt>
      <dd>{value}{hint != null && <small>{hint}</small>}</dd>
    </div>
  )
}

/** A row of {@link Stat}s. */
export function Stats ({ children }: { children: ComponentChildren }) {
  return <dl class='stats'>{children}</dl>
}

/** A titled block of a panel. */
export function Section ({ title, children, actions, id }: { title: string, children: ComponentChildren, actions?: ComponentChildren, id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-title`
  return (
    <section class='card' aria-labelledby={headingId} id={id}>
      <div class='card-head'>
        <h3 id={headingId}>{title}</h3>
        {actions}
      </div>
      {children}
    </section>
  )
}

/** A button that copies `text` and says so. */
export function CopyButton ({ text, label = 'Copy' }: { text: string, label?: string }) {
  const [done, setDone] = useState(false)
  return (
    <button
      type='button'
      class='small'
      aria-label={`${label}: ${text}`}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true)
          setTimeout(() => { setDone(false) }, 1500)
        }).catch(() => {})
      }}
    >{done ? 'Copied' : label}
    </button>
  )
}

/** A long id in monospace that wraps, with its full text on hover. */
export function Mono ({ children, title }: { children: string, title?: string }) {
  return <code class='mono' title={title ?? children}>{children}</code>
}

/** An error message, announced to screen readers. */
export function ErrorText ({ error }: { error: string | null | undefined }) {
  if (error == null || error === '') return null
  return <p class='error' role='alert'>{error}</p>
}

/** A message for an empty list. */
export function Empty ({ children }: { children: ComponentChildren }) {
  return <p class='empty'>{children}</p>
}

/** The text of an error, for people. */
export function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
