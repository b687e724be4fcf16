/**
 * A force-directed graph (force-graph on a canvas). Nodes keep their place when the data
 * updates: the same ids reuse the same node objects, and the layout only restarts when the set
 * of nodes or links changes. Links may be styled one by one (the Onion panel draws its circuits'
 * paths in colour, with arrows in the direction of the path). The canvas is a picture for screen
 * readers; the page lists the same nodes in a table.
 */
import ForceGraph from 'force-graph'
import type { LinkObject, NodeObject } from 'force-graph'
import { useEffect, useRef } from 'preact/hooks'
import { inkColor } from './chart.tsx'

/** A node to draw. */
export interface GraphNode {
  id: string
  label: string
  /** `self`: this node; `peer`: connected to it; `remote`: seen through a peer. */
  kind: 'self' | 'peer' | 'remote'
}

/** How one link is drawn instead of the default thin grey line. */
export interface LinkStyle {
  color: string
  /** Dashed (a retired circuit). */
  dashed?: boolean
}

/** Props of {@link Graph}. */
export interface GraphProps {
  nodes: GraphNode[]
  links: Array<[string, string]>
  /** Styles by {@link linkKey}`(from, to)` of a link given as `[from, to]`: drawn with an arrow that way. */
  linkStyles?: ReadonlyMap<string, LinkStyle>
  height?: number
  label: string
}

/** The key of a link in {@link GraphProps.linkStyles}. */
export function linkKey (from: string, to: string): string {
  return `${from}>${to}`
}

type N = NodeObject & GraphNode
type L = LinkObject<N>

const COLORS = { self: '#e76f51', peer: '#2a9d8f', remote: '#8d99ae' }

/** See the module comment. */
export function Graph ({ nodes, links, linkStyles, height = 360, label }: GraphProps) {
  const box = useRef<HTMLDivElement>(null)
  const graph = useRef<ForceGraph<N, L> | null>(null)
  const known = useRef(new Map<string, N>())
  const shape = useRef('')
  const styles = useRef(linkStyles)
  styles.current = linkStyles

  useEffect(() => {
    const el = box.current
    if (el == null) return
    const ink = inkColor(el)
    const g = new ForceGraph<N, L>(el)
      .width(el.clientWidth)
      .height(height)
      .nodeId('id')
      .nodeRelSize(6)
      .nodeVal(n => n.kind === 'self' ? 3 : 1.5)
      .nodeColor(n => COLORS[n.kind])
      .nodeLabel(n => n.id)
    applyLinkStyles(g, el, styles)
    g
      .cooldownTime(4000)
      .maxZoom(3)
      .nodeCanvasObjectMode(() => 'after')
      .nodeCanvasObject((n, ctx, scale) => {
        const size = 11 / scale
        ctx.font = `${size}px system-ui, sans-serif`
        ctx.fillStyle = ink
        ctx.textAlign = 'center'
        ctx.textBaseline = 'top'
        ctx.fillText(n.label, n.x ?? 0, (n.y ?? 0) + (n.kind === 'self' ? 12 : 9))
      })
    // longer links than force-graph's 30: a handful of nodes otherwise huddles, and paths drawn on it can't be told apart
    ;(g.d3Force('link') as { distance?: (d: number) => unknown } | undefined)?.distance?.(70)
    graph.current = g
    const ro = new ResizeObserver(() => { g.width(el.clientWidth) })
    ro.observe(el)
    return () => {
      ro.disconnect()
      g._destructor()
      graph.current = null
      shape.current = ''
    }
  }, [height])

  useEffect(() => {
    const g = graph.current
    if (g == null) return
    const key = nodes.map(n => `${n.id}:${n.kind}`).sort().join(',') + '|' + links.map(l => l.join('-')).sort().join(',')
    if (key === shape.current) return
    shape.current = key
    const next = new Map<string, N>()
    for (const n of nodes) {
      const old = known.current.get(n.id)
      next.set(n.id, old != null ? Object.assign(old, n) : { ...n })
    }
    known.current = next
    const ids = new Set(next.keys())
    g.graphData({
      nodes: [...next.values()],
      links: links.filter(([a, b]) => ids.has(a) && ids.has(b)).map(([a, b]) => ({ source: a, target: b }))
    })
    setTimeout(() => { graph.current?.zoomToFit(400, 40) }, 1200)
  }, [nodes, links])

  useEffect(() => {
    const el = box.current
    // new accessors make force-graph redraw a graph whose layout has settled
    if (graph.current != null && el != null) applyLinkStyles(graph.current, el, styles)
  }, [linkStyles])

  return <div class='graph' ref={box} role='img' aria-label={label} />
}

/** The style of link `l` (given as `[from, to]`). */
function styleOf (l: L, styles: { current: ReadonlyMap<string, LinkStyle> | undefined }): LinkStyle | undefined {
  const id = (end: L['source']): string => String(typeof end === 'object' ? end.id : end)
  return styles.current?.get(linkKey(id(l.source), id(l.target)))
}

function applyLinkStyles (g: ForceGraph<N, L>, el: HTMLElement, styles: { current: ReadonlyMap<string, LinkStyle> | undefined }): void {
  g.linkColor(l => styleOf(l, styles)?.color ?? inkColor(el, 0.35))
    .linkWidth(l => styleOf(l, styles) != null ? 3 : 1.5)
    .linkLineDash(l => styleOf(l, styles)?.dashed === true ? [4, 3] : null)
    .linkDirectionalArrowLength(l => styleOf(l, styles) != null ? 7 : 0)
    .linkDirectionalArrowRelPos(0.85)
}
