/**
 * `peerd dashboard`: asks the daemon for a one-time login token and prints the dashboard's URL
 * with it; on a desktop it also opens the URL in the default browser.
 */
import { spawn } from 'node:child_process'
import { ApiClient } from '../client.ts'
import type { Command } from '../command.ts'
import { printJson, printLines } from '../output.ts'

/** Whether this looks like a desktop session, where a browser can be opened. */
export function isDesktop (env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true
  return (env.DISPLAY ?? '') !== '' || (env.WAYLAND_DISPLAY ?? '') !== ''
}

/**
 * Opens `url` with the platform's opener (`open`, `xdg-open`, `start`). Resolves to whether the
 * opener started; never throws.
 */
export async function openUrl (url: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const [cmd, args] = platform === 'darwin'
    ? ['open', [url]]
    : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]]
  return await new Promise<boolean>((resolve) => {
    try {
      const child = spawn(cmd, args, { detached: true, stdio: 'ignore' })
      child.once('error', () => { resolve(false) })
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}

/** `peerd dashboard`: the one-time login link (see the module comment). */
export const dashboard: Command = {
  name: 'dashboard',
  summary: 'print (and on a desktop open) a one-time login link to the web dashboard',
  usage: 'dashboard [--no-open] [--json]',
  help: `  --no-open   only print the link, don't open a browser
  The link logs one browser in, once, within 10 minutes; the session lasts 12 hours
  or until the daemon stops.`,
  options: { 'no-open': { type: 'boolean' } },
  args: { min: 0, max: 0 },
  async run (ctx) {
    const r = await new ApiClient(ctx.dataDir).post<{ url: string, expiresAt: string }>('/api/v1/dashboard/token')
    const open = ctx.values['no-open'] !== true && isDesktop()
    if (ctx.json) printJson({ url: r.url, expiresAt: r.expiresAt })
    else printLines(`dashboard: ${r.url}`, 'The link logs one browser in, once, within 10 minutes.')
    if (open) {
      const opened = await openUrl(r.url)
      if (!ctx.json) printLines(opened ? 'opened it in your browser' : 'could not open a browser: open the link yourself')
    }
    return 0
  }
}
