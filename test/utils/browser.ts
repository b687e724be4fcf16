/**
 * A real browser for end-to-end tests: Debian's Chromium driven by playwright-core. The browser
 * is installed with apt-get when it is missing (as root, on Debian or Ubuntu); when that can't
 * be done, {@link findChromium} says why, for a clear skip.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'

const run = promisify(execFile)

/** Where Debian installs Chromium. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * Chromium's path, installing Debian's package first if it is missing; or `{ skip }` with the
 * reason it can't be had.
 */
export async function findChromium (): Promise<{ path: string } | { skip: string }> {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM }
  if (process.platform !== 'linux') return { skip: `no ${CHROMIUM}, and it is installed only on Linux (with apt-get)` }
  if (process.getuid?.() !== 0) return { skip: `no ${CHROMIUM}: install it with \`sudo apt-get install -y chromium\` (the test installs it only when it runs as root)` }
  try {
    await run('apt-get', ['--version'])
  } catch {
    return { skip: `no ${CHROMIUM} and no apt-get to install it with` }
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    console.error('# installing chromium with apt-get (once per machine)…')
    await run('apt-get', ['update', '-qq'], { env, timeout: 300_000 }).catch(() => {})
    await run('apt-get', ['install', '-y', '-qq', 'chromium'], { env, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 })
  } catch (err) {
    return { skip: `apt-get install chromium failed: ${(err as Error).message.split('\n')[0] ?? ''}` }
  }
  return existsSync(CHROMIUM) ? { path: CHROMIUM } : { skip: `apt-get installed chromium but ${CHROMIUM} is missing` }
}

/**
 * Launches headless Chromium. playwright-core gives every launch a fresh, empty profile (its
 * own temporary --user-data-dir), removed on close.
 */
export async function launchChromium (executablePath: string): Promise<Browser> {
  return await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  })
}
