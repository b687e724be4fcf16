/**
 * Where the CLI gets a wallet passphrase: `--passphrase-file F` (first line), else the
 * environment variable `PEERD_WALLET_PASSPHRASE`, else a prompt on the terminal that does not
 * echo. Without any of them (a script, no TTY) it fails with a message naming the three ways.
 */
import { readFile } from 'node:fs/promises'
import { UsageError } from '../errors.ts'

/** The environment variable that may hold the passphrase. */
export const PASSPHRASE_ENV = 'PEERD_WALLET_PASSPHRASE'

/** Reads one line from the terminal without echoing it. */
async function prompt (question: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(question)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  return await new Promise<string>((resolve, reject) => {
    let text = ''
    const done = (err?: Error): void => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (err != null) reject(err)
      else resolve(text)
    }
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') { done(); return }
        if (ch === '\u0003') { done(new UsageError('cancelled')); return }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1)
        else text += ch
      }
    }
    stdin.on('data', onData)
  })
}

/**
 * The passphrase for a wallet operation. With `confirm`, a prompt asks twice (for a new wallet).
 * An empty passphrase is refused.
 */
export async function readPassphrase (options: { file?: string, confirm?: boolean }): Promise<string> {
  let pass: string | undefined
  if (options.file != null) {
    let text: string
    try {
      text = await readFile(options.file, 'utf8')
    } catch (err) {
      throw new UsageError(`cannot read the passphrase file ${options.file}: ${(err as Error).message}`)
    }
    pass = text.split(/\r?\n/)[0] ?? ''
  } else if (process.env[PASSPHRASE_ENV] != null) {
    pass = process.env[PASSPHRASE_ENV]
  } else if (process.stdin.isTTY) {
    pass = await prompt('wallet passphrase: ')
    if (options.confirm === true && await prompt('again, to confirm: ') !== pass) throw new UsageError('the two passphrases differ')
  } else {
    throw new UsageError(`a wallet passphrase is needed: use --passphrase-file FILE, set ${PASSPHRASE_ENV}, or run on a terminal to be asked`)
  }
  if (pass == null || pass === '') throw new UsageError('the wallet passphrase must not be empty')
  return pass
}
