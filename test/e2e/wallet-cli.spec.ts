/**
 * `peerd wallet …` and `peerd send` against real regtest daemon processes: create (passphrase
 * from a file or the environment, never from a missing TTY), mine to the wallet, balances in
 * base units, a payment between two daemons, and every kind of bad input refused with a clear
 * error and nothing broadcast. The words again with `wallet mnemonic`, never logged. Restore
 * from the mnemonic file on a third daemon.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { cliJson, runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { assertFailed, errorOf } from '../utils/cli.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 90_000 }
const COIN = 100_000_000

interface Balance { confirmed: number, unconfirmed: number, immature: number }
interface Info { height: number, tip: string, mempool: { size: number } }

describe('peerd wallet and send (CLI)', () => {
  const td = teardown()
  let dir: string
  let a: DaemonProcess
  let b: DaemonProcess
  let da: string[]
  let db: string[]
  let passA: string
  let mnemonic: string

  before(async () => {
    dir = await td.dir('peerd-e2e-wallet-')
    a = td.daemon(await startDaemonProcess(join(dir, 'a')))
    b = td.daemon(await startDaemonProcess(join(dir, 'b'), ['--bootstrap', a.addresses[0] as string]))
    da = ['--data-dir', a.dataDir]
    db = ['--data-dir', b.dataDir]
    passA = join(dir, 'pass-a')
    await writeFile(passA, 'correct horse\n')
  })

  it('creates wallets; the passphrase comes from a file or the environment', TEST, async () => {
    const noPass = await runCli(['wallet', 'create', ...da])
    assert.equal(noPass.code, 2)
    assert.match(noPass.stderr, /passphrase-file|PEERD_WALLET_PASSPHRASE/)

    const created = await cliJson<{ mnemonic: string, address: string }>(['wallet', 'create', '--passphrase-file', passA, '--json', ...da])
    mnemonic = created.mnemonic
    assert.equal(mnemonic.split(' ').length, 24)
    assert.match(created.address, /^pdrt1p[0-9a-z]{58}$/)
    const again = await runCli(['wallet', 'create', '--passphrase-file', passA, '--json', ...da])
    assertFailed(again)
    assert.equal(errorOf(again).name, 'WalletExistsError')

    const viaEnv = await runCli(['wallet', 'create', '--json', ...db], { env: { ...process.env, PEERD_WALLET_PASSPHRASE: 'bee pass' } })
    assert.equal(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr)
    const addr = await cliJson<{ address: string }>(['wallet', 'address', '--json', ...db])
    assert.notEqual(addr.address, (JSON.parse(viaEnv.stdout) as { address: string }).address, 'a fresh address each time')
  })

  it('shows the recovery words again given the passphrase, never in the log', TEST, async () => {
    const again = await cliJson<{ mnemonic: string }>(['wallet', 'mnemonic', '--passphrase-file', passA, '--json', ...da])
    assert.equal(again.mnemonic, mnemonic)
    const human = await runCli(['wallet', 'mnemonic', '--passphrase-file', passA, ...da])
    assert.equal(human.code, 0, human.stderr)
    assert.ok(human.stdout.includes(mnemonic), human.stdout)
    const wrongPass = join(dir, 'wrong-mnemonic')
    await writeFile(wrongPass, 'not it\n')
    const wrong = await runCli(['wallet', 'mnemonic', '--passphrase-file', wrongPass, '--json', ...da])
    assertFailed(wrong)
    assert.equal(errorOf(wrong).name, 'WrongPassphraseError')
    assert.ok(!wrong.stdout.includes(mnemonic.split(' ')[0] + ' ' + mnemonic.split(' ')[1]))
    const log = a.stderr()
    assert.ok(log.length > 0, 'the daemon logged something')
    for (const w of [mnemonic, mnemonic.split(' ').slice(0, 3).join(' ')]) assert.ok(!log.includes(w), 'recovery words in the daemon log')
  })

  it('mines to the wallet and pays another node', TEST, async () => {
    const mined = await cliJson<{ blocks: string[] }>(['mine', '--blocks', '12', '--json', ...da])
    assert.equal(mined.blocks.length, 12)
    const bal = await cliJson<Balance>(['wallet', 'balance', '--json', ...da])
    assert.equal(bal.confirmed + bal.immature + bal.unconfirmed, 12 * 5 * COIN)
    assert.ok(bal.confirmed >= 5 * COIN)

    const to = (await cliJson<{ address: string }>(['wallet', 'address', '--json', ...db])).address
    await waitFor(async () => (await cliJson<Info>(['chain', 'info', '--json', ...db])).height === 12, { what: 'B synced' })
    const sent = await cliJson<{ txid: string }>(['send', to, '1.25', '--passphrase-file', passA, '--json', ...da])
    assert.match(sent.txid, /^[0-9a-f]{64}$/)
    await waitFor(async () => (await cliJson<Balance>(['wallet', 'balance', '--json', ...db])).unconfirmed === 125_000_000, { what: 'B sees it unconfirmed' })
    await cliJson(['mine', '--blocks', '1', '--json', ...da])
    await waitFor(async () => (await cliJson<Balance>(['wallet', 'balance', '--json', ...db])).confirmed === 125_000_000, { what: 'B sees it confirmed' })
    const history = await cliJson<Array<{ txid: string, amount: number, confirmations: number }>>(['wallet', 'history', '--json', ...db])
    assert.deepEqual(history.map((h) => [h.txid, h.amount, h.confirmations]), [[sent.txid, 125_000_000, 1]])
    const human = await runCli(['wallet', 'balance', ...db])
    assert.match(human.stdout, /confirmed:\s+1\.25\n/)
  })

  it('refuses bad payments with a clear error and broadcasts nothing', TEST, async () => {
    const good = (await cliJson<{ address: string }>(['wallet', 'address', '--json', ...db])).address
    const flipped = good.slice(0, -1) + (good.endsWith('q') ? 'p' : 'q')
    const mainAddr = encodeAddress('pd', xOnlyPublicKey(new Uint8Array(32).fill(4)))
    const cases: Array<[string[], RegExp]> = [
      [['send', flipped, '1'], /checksum/i],
      [['send', mainAddr, '1'], /regtest|network|pdrt/i],
      [['send', good, '1.000000001'], /8 decimals/],
      [['send', good, '0'], /more than zero/],
      [['send', good, '-1'], /positive|number/],
      [['send', good, '100000'], /insufficient|available/i]
    ]
    for (const [args, why] of cases) {
      const r = await runCli([...args, '--passphrase-file', passA, '--json', ...da])
      assertFailed(r)
      assert.match(errorOf(r).message, why, args.join(' '))
    }
    const wrongPass = join(dir, 'wrong')
    await writeFile(wrongPass, 'not it\n')
    const wrong = await runCli(['send', good, '1', '--passphrase-file', wrongPass, '--json', ...da])
    assertFailed(wrong)
    assert.equal(errorOf(wrong).name, 'WrongPassphraseError')
    assert.equal((await cliJson<Info>(['chain', 'info', '--json', ...da])).mempool.size, 0, 'something was broadcast')
  })

  it('restores the wallet from its mnemonic on another node', TEST, async () => {
    const c = td.daemon(await startDaemonProcess(join(dir, 'c'), ['--bootstrap', a.addresses[0] as string]))
    const dc = ['--data-dir', c.dataDir]
    const tipA = (await cliJson<Info>(['chain', 'info', '--json', ...da])).tip
    await waitFor(async () => (await cliJson<Info>(['chain', 'info', '--json', ...dc])).tip === tipA, { what: 'C synced' })
    const words = join(dir, 'words')
    await writeFile(words, mnemonic + '\n')
    const r = await cliJson<{ address: string }>(['wallet', 'restore', '--mnemonic-file', words, '--passphrase-file', passA, '--json', ...dc])
    assert.match(r.address, /^pdrt1p/)
    const want = await cliJson<Balance>(['wallet', 'balance', '--json', ...da])
    const got = await cliJson<Balance>(['wallet', 'balance', '--json', ...dc])
    assert.equal(got.confirmed + got.immature, want.confirmed + want.immature)
  })
})
