/**
 * The `peerd` command line: finds the command, parses its flags strictly, runs it, and turns
 * errors into one readable line (or `{"error": …}` with --json) and a non-zero exit:
 * 2 for usage errors, 1 for everything else.
 */
import { UsageError } from '../errors.ts'
import { VERSION } from '../version.ts'
import { GLOBAL_HELP, parseCommandArgs, splitCommand } from './command.ts'
import type { Command } from './command.ts'
import { connect, disconnect, id, peers, status, stop } from './commands/basic.ts'
import { daemon } from './commands/daemon.ts'
import { dashboard } from './commands/dashboard.ts'
import { devnet } from './commands/devnet.ts'
import { cat, gc, get, link, ls, share, unshare } from './commands/share.ts'
import { chain, mine } from './commands/chain.ts'
import { send, wallet } from './commands/wallet.ts'
import { onion } from './commands/onion.ts'
import { bandwidth } from './commands/bandwidth.ts'
import { printError } from './output.ts'

/** Every command, in the order `peerd help` lists them. */
export const COMMANDS: Command[] = [daemon, id, peers, connect, disconnect, status, stop, share, get, link, cat, ls, unshare, gc, chain, mine, wallet, send, onion, bandwidth, dashboard, devnet]

/** The overview printed by `peerd help`. */
export function usage (): string {
  const width = Math.max(...COMMANDS.map(c => c.name.length))
  return [
    `peerd ${VERSION}: a peer-to-peer node (every node is client and server; no central host)`,
    '',
    'usage: peerd COMMAND [options]',
    '',
    'commands:',
    ...COMMANDS.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'options for every command:',
    GLOBAL_HELP,
    '',
    'Run `peerd COMMAND --help` for a command\'s options.'
  ].join('\n')
}

function commandHelp (cmd: Command): string {
  return [`usage: peerd ${cmd.usage}`, '', cmd.summary, '', ...(cmd.help != null ? ['options:', cmd.help, ''] : []), 'options for every command:', GLOBAL_HELP].join('\n')
}

/** Runs the CLI with `argv` (without `node` and the script); sets `process.exitCode`. */
export async function main (argv: string[]): Promise<void> {
  // `peerd … | head` closes the pipe early: that is not an error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0) })
  const json = argv.includes('--json')
  const { name, rest } = splitCommand(argv)
  if (name == null || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find(c => c.name === rest.find(a => !a.startsWith('-'))) : undefined
    if (name == null && (argv.includes('--version') || argv.includes('-v'))) {
      process.stdout.write(`peerd ${VERSION}\n`)
      return
    }
    const asked = name === 'help' || argv.includes('--help') || argv.includes('-h')
    ;(asked ? process.stdout : process.stderr).write((topic != null ? commandHelp(topic) : usage()) + '\n')
    process.exitCode = asked ? 0 : 2
    return
  }
  const cmd = COMMANDS.find(c => c.name === name)
  try {
    if (cmd == null) throw new UsageError(`unknown command "${name}"`)
    const ctx = parseCommandArgs(cmd, rest)
    if (ctx.values.help === true) {
      process.stdout.write(commandHelp(cmd) + '\n')
      return
    }
    process.exitCode = (await cmd.run(ctx)) ?? 0
  } catch (err) {
    printError(err, json)
    if (err instanceof UsageError) {
      if (!json) process.stderr.write(cmd != null ? `usage: peerd ${cmd.usage}\nRun \`peerd ${cmd.name} --help\` for details.\n` : '\n' + usage() + '\n')
      process.exitCode = 2
    } else {
      process.exitCode = 1
    }
  }
  // libp2p and timers may keep the loop alive after a daemon stopped cleanly
  if (cmd === daemon || cmd === devnet) process.exit(process.exitCode)
}
