/**
 * `peerd link --register`: makes `peerd get` the desktop's handler of `peerd://` links on Linux
 * (freedesktop.org): a desktop entry with `MimeType=x-scheme-handler/peerd` under
 * `$XDG_DATA_HOME/applications` (default `~/.local/share/applications`), made the default for the
 * scheme with `xdg-mime` when that is installed. A clicked link then opens a terminal running
 * `peerd get LINK` in the Downloads folder (or the home folder).
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '../errors.ts'

/** The desktop entry's file name (also its id for `xdg-mime`). */
export const DESKTOP_FILE = 'peerd-link.desktop'

/** What {@link registerUrlHandler} did. */
export interface Registered {
  /** The desktop entry written. */
  file: string
  /** `set`: xdg-mime made it the default; `missing`: xdg-mime is not installed; `failed`: it exited with an error. */
  xdgMime: 'set' | 'missing' | 'failed'
}

/**
 * Quotes one argument of a desktop entry's `Exec` key: double quotes, with `"`, `` ` ``, `$` and
 * `\` escaped, then `\` escaped again for the string value, and `%` doubled (the spec's rules).
 */
export function execArg (arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(arg)) throw new InvalidArgumentError(`cannot write ${JSON.stringify(arg)} into a desktop entry: it holds a control character`)
  const quoted = '"' + arg.replace(/["`$\\]/g, c => '\\' + c) + '"'
  return quoted.replaceAll('\\', '\\\\').replaceAll('%', '%%')
}

/** Writes the desktop entry and, with xdg-mime, makes it the `peerd://` handler. */
export async function registerUrlHandler (init: { command: string[], dataDir: string, env?: NodeJS.ProcessEnv }): Promise<Registered> {
  const env = init.env ?? process.env
  const home = env.HOME ?? homedir()
  const dir = join(env.XDG_DATA_HOME != null && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(home, '.local', 'share'), 'applications')
  const downloads = join(home, 'Downloads')
  const exec = [...init.command, 'get', '--data-dir', init.dataDir].map(execArg).join(' ') + ' %u'
  const entry = [
    '[Desktop Entry]',
    'Type=Application',
    'Name=peerd',
    'Comment=Fetch content from a peerd:// link',
    `Exec=${exec}`,
    `Path=${existsSync(downloads) ? downloads : home}`,
    'Terminal=true',
    'NoDisplay=true',
    'MimeType=x-scheme-handler/peerd;',
    ''
  ].join('\n')
  await mkdir(dir, { recursive: true })
  const file = join(dir, DESKTOP_FILE)
  // written whole or not at all: a desktop reading it half-written would drop the handler
  await writeFile(`${file}.tmp`, entry, { mode: 0o644 })
  await rename(`${file}.tmp`, file)
  const xdgMime = await new Promise<Registered['xdgMime']>(resolve => {
    const child = spawn('xdg-mime', ['default', DESKTOP_FILE, 'x-scheme-handler/peerd'], { stdio: 'ignore', env })
    child.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code === 'ENOENT' ? 'missing' : 'failed') })
    child.on('exit', code => { resolve(code === 0 ? 'set' : 'failed') })
  })
  return { file, xdgMime }
}
