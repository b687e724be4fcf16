/**
 * The node's bandwidth caps, in the Overview's Bandwidth section: the upload and download caps
 * in force now, the schedule entry that set them, and a form that changes the global caps
 * (`POST /api/v1/bandwidth/limits`, in force at once, until the daemon stops). Polled every few
 * seconds, since a schedule entry may start or end meanwhile.
 */
import { useEffect, useState } from 'preact/hooks'
import { get, post } from '../api.ts'
import { formatCap } from '../format.ts'
import type { BandwidthLimitsInfo, ScheduleEntry } from '../types.ts'
import { ErrorText, messageOf, Stat, Stats } from '../ui.tsx'

const POLL_MS = 5_000

/** A cap for people, in the units the inputs take: `unlimited` for 0. */
export function capText (bytesPerSec: number | undefined): string {
  return bytesPerSec == null || bytesPerSec === 0 ? 'unlimited' : formatCap(bytesPerSec)
}

function entryText (e: ScheduleEntry): string {
  const caps = [e.maxUpload != null ? `up ${capText(e.maxUpload)}` : '', e.maxDownload != null ? `down ${capText(e.maxDownload)}` : ''].filter(s => s !== '').join(', ')
  return `${e.days} ${e.from}–${e.to}: ${caps}`
}

/** See the module comment. */
export function BandwidthCaps () {
  const [limits, setLimits] = useState<BandwidthLimitsInfo | null>(null)
  const [upload, setUpload] = useState('')
  const [download, setDownload] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let live = true
    const poll = async (): Promise<void> => {
      try {
        const l = await get<BandwidthLimitsInfo>('/api/v1/bandwidth/limits')
        if (live) setLimits(l)
      } catch { /* the next poll tries again */ }
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { live = false; clearInterval(timer) }
  }, [])

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    const body: Record<string, string> = {}
    if (upload.trim() !== '') body.maxUpload = upload.trim()
    if (download.trim() !== '') body.maxDownload = download.trim()
    if (Object.keys(body).length === 0) return
    setBusy(true)
    setError(null)
    try {
      setLimits(await post<BandwidthLimitsInfo>('/api/v1/bandwidth/limits', body))
      setUpload('')
      setDownload('')
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }

  const active = limits?.activeEntry == null ? undefined : limits.schedule[limits.activeEntry]
  return (
    <div id='bandwidth-caps'>
      <Stats>
        <Stat id='cap-up' label='Upload cap' value={limits != null ? capText(limits.effective.maxUpload) : '–'} />
        <Stat id='cap-down' label='Download cap' value={limits != null ? capText(limits.effective.maxDownload) : '–'} />
      </Stats>
      {limits != null && (
        <p class='muted' id='cap-schedule'>
          {active != null
            ? `Schedule entry ${(limits.activeEntry ?? 0) + 1} of ${limits.schedule.length} in force (${entryText(active)}); global caps: up ${capText(limits.maxUpload)}, down ${capText(limits.maxDownload)}.`
            : limits.schedule.length > 0
              ? `No schedule entry in force now (${limits.schedule.length} in the schedule): the global caps apply.`
              : 'No schedule (bandwidthSchedule in config.json).'}
        </p>
      )}
      <form class='inline-form' onSubmit={(e) => { void submit(e) }}>
        <label for='cap-upload'>Change the global caps (5MB, 20Mbit, 0 for unlimited; until the daemon stops)</label>
        <div class='row'>
          <input id='cap-upload' aria-label='Upload cap' placeholder={`upload (now ${limits != null ? capText(limits.maxUpload) : '…'})`} value={upload} onInput={(e) => { setUpload((e.target as HTMLInputElement).value) }} />
          <input id='cap-download' aria-label='Download cap' placeholder={`download (now ${limits != null ? capText(limits.maxDownload) : '…'})`} value={download} onInput={(e) => { setDownload((e.target as HTMLInputElement).value) }} />
          <button type='submit' disabled={busy}>{busy ? 'Setting…' : 'Set'}</button>
        </div>
        <ErrorText error={error} />
      </form>
    </div>
  )
}
