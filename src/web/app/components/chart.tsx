/**
 * A uPlot chart that fills its container's width and follows it on resize. `options` builds the
 * chart's options from its element (to read the page's colours); it should be stable (defined
 * outside the component or memoised): a new function rebuilds the chart, new `data` only
 * redraws it.
 */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** Props of {@link Chart}. */
export interface ChartProps {
  /** Everything but the size, from the chart's element. */
  options: (el: HTMLElement) => Omit<uPlot.Options, 'width' | 'height'>
  data: uPlot.AlignedData
  height?: number
  /** What the chart shows, for screen readers (the chart itself is a picture). */
  label: string
}

/** The page's text colour, for axes and grid lines drawn on the canvas. */
export function inkColor (el: Element, alpha = 1): string {
  const c = getComputedStyle(el).color
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(c)
  return m == null ? c : `rgba(${m[1] ?? 0}, ${m[2] ?? 0}, ${m[3] ?? 0}, ${alpha})`
}

/** Axis settings in the page's colours. */
export function axis (el: Element, extra: uPlot.Axis = {}): uPlot.Axis {
  return {
    stroke: inkColor(el, 0.8),
    grid: { stroke: inkColor(el, 0.12), width: 1 },
    ticks: { stroke: inkColor(el, 0.25), width: 1 },
    ...extra
  }
}

/** See the module comment. */
export function Chart ({ options, data, height = 200, label }: ChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef(data)
  latest.current = data

  useEffect(() => {
    const el = box.current
    if (el == null) return
    const p = new uPlot({ ...options(el), width: Math.max(200, el.clientWidth), height }, latest.current, el)
    plot.current = p
    const ro = new ResizeObserver(() => { p.setSize({ width: Math.max(200, el.clientWidth), height }) })
    ro.observe(el)
    return () => {
      ro.disconnect()
      p.destroy()
      plot.current = null
    }
  }, [options, height])

  useEffect(() => { plot.current?.setData(data) }, [data])

  return <div class='chart' ref={box} role='img' aria-label={label} />
}
