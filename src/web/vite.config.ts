/**
 * Vite's configuration for the dashboard: the app in `src/web/`, built to `dist/web/`, which
 * the daemon serves at its API address. Preact's JSX is compiled by Vite's own transformer
 * (oxc), so no Babel preset is needed. `npm run dev:web` serves it with hot reload and
 * forwards `/api` to a daemon (`PEERD_API`, default `http://127.0.0.1:9480`).
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/** This folder. */
export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url))
/** Where the build goes. */
export const WEB_OUT = fileURLToPath(new URL('../../dist/web/', import.meta.url))

export default defineConfig({
  root: WEB_ROOT,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: WEB_OUT,
    emptyOutDir: true,
    target: 'es2022',
    // one chunk per library family keeps the app's own chunk small and cacheable
    chunkSizeWarningLimit: 700
  },
  server: {
    proxy: { '/api': { target: process.env.PEERD_API ?? 'http://127.0.0.1:9480' } }
  }
})
