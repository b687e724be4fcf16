/** A QR code of `text`, drawn as SVG by uqr. */
import { useMemo } from 'preact/hooks'
import { renderSVG } from 'uqr'

/** See the module comment. */
export function Qr ({ text, label }: { text: string, label: string }) {
  // uqr's output is an SVG string of rects built from the text's bits: no markup from the text
  const svg = useMemo(() => renderSVG(text, { border: 2 }), [text])
  return <div class='qr' role='img' aria-label={label} dangerouslySetInnerHTML={{ __html: svg }} />
}
