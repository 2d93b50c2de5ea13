/**
 * Lays the pipeline out as a top-to-bottom DAG for an SVG drawing in a narrow sidebar.
 * Steps go in layers (a step sits one layer below its deepest upstream step), nodes in a
 * layer are ordered by their parents' positions to keep edges from crossing, and every
 * edge carries a label with the variables it passes. A small pipeline needs no graph
 * library; an invalid one (cycles, unknown steps) still draws, with the offending edges
 * marked instead of breaking the layout.
 */

import { IEdge, IPipeline } from './types';

export interface ILayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  layerGap: number;
  margin: number;
  maxLabelChars: number;
}

export const DEFAULT_LAYOUT: ILayoutOptions = {
  nodeWidth: 116,
  nodeHeight: 36,
  columnGap: 20,
  layerGap: 44,
  margin: 12,
  maxLabelChars: 22
};

export interface ILayoutNode {
  name: string;
  phase: string | null;
  layer: number;
  column: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ILayoutEdge {
  source: string;
  target: string;
  kind: 'data' | 'order';
  variables: string[];
  /** Short text drawn on the edge; `title` is the full text for a tooltip. */
  label: string;
  title: string;
  /** SVG path data, from the bottom of the source to the top of the target. */
  path: string;
  labelX: number;
  labelY: number;
  /** An edge that goes against notebook order: part of a cycle (an invalid pipeline). */
  back: boolean;
}

export interface IDagLayout {
  nodes: ILayoutNode[];
  edges: ILayoutEdge[];
  /** Edges naming a step that does not exist (e.g. `after:` of an unknown step). */
  dangling: IEdge[];
  layers: string[][];
  width: number;
  height: number;
}

/**
 * The sequence steps are placed in: the pipeline's run `order` when it lists every step
 * (valid pipelines), else notebook order (invalid ones have an empty `order`).
 */
export function placementOrder(pipeline: Pick<IPipeline, 'steps' | 'order'>): string[] {
  const names = pipeline.steps.map(s => s.name);
  const known = new Set(names);
  const order = pipeline.order ?? [];
  if (order.length === names.length && order.every(n => known.has(n))) {
    return [...order];
  }
  return names;
}

/**
 * Layer of each step: 0 for a step with no upstream, else one more than its deepest
 * upstream step. Only edges that point forward in `sequence` count, so a cycle cannot
 * loop the computation.
 */
export function assignLayers(
  sequence: string[],
  edges: IEdge[]
): Map<string, number> {
  const position = new Map(sequence.map((name, i) => [name, i]));
  const layers = new Map<string, number>();
  for (const name of sequence) {
    let layer = 0;
    for (const edge of edges) {
      if (edge.target !== name) {
        continue;
      }
      const source = position.get(edge.source);
      if (source === undefined || source >= (position.get(name) ?? 0)) {
        continue;
      }
      layer = Math.max(layer, (layers.get(edge.source) ?? 0) + 1);
    }
    layers.set(name, layer);
  }
  return layers;
}

/**
 * Nodes of each layer, ordered by the mean column of their upstream nodes in the layer
 * above (barycenter heuristic), ties kept in sequence order.
 */
export function orderLayers(
  sequence: string[],
  layers: Map<string, number>,
  edges: IEdge[]
): string[][] {
  const depth = Math.max(-1, ...Array.from(layers.values())) + 1;
  const rows: string[][] = Array.from({ length: depth }, () => []);
  for (const name of sequence) {
    rows[layers.get(name) ?? 0].push(name);
  }
  const column = new Map<string, number>();
  rows.forEach((row, r) => {
    if (r > 0) {
      const rank = new Map(sequence.map((n, i) => [n, i]));
      const centre = (name: string): number => {
        const parents = edges
          .filter(e => e.target === name && column.has(e.source))
          .map(e => column.get(e.source) as number);
        return parents.length
          ? parents.reduce((a, b) => a + b, 0) / parents.length
          : Number.POSITIVE_INFINITY;
      };
      const keyed = row.map(name => ({ name, key: centre(name) }));
      keyed.sort(
        (a, b) =>
          a.key - b.key ||
          (rank.get(a.name) as number) - (rank.get(b.name) as number)
      );
      rows[r] = keyed.map(k => k.name);
    }
    rows[r].forEach((name, c) => column.set(name, c));
  });
  return rows;
}

/** `a, b, c` cut to `max` characters with an ellipsis. */
export function edgeLabel(edge: IEdge, max: number): string {
  const text = edge.kind === 'order' ? 'after' : edge.variables.join(', ');
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

export function layoutPipeline(
  pipeline: Pick<IPipeline, 'steps' | 'order' | 'edges'>,
  options: ILayoutOptions = DEFAULT_LAYOUT
): IDagLayout {
  const sequence = placementOrder(pipeline);
  const known = new Set(sequence);
  const edges = pipeline.edges.filter(
    e => known.has(e.source) && known.has(e.target)
  );
  const dangling = pipeline.edges.filter(
    e => !known.has(e.source) || !known.has(e.target)
  );
  const layerOf = assignLayers(sequence, edges);
  const rows = orderLayers(sequence, layerOf, edges);

  const { nodeWidth, nodeHeight, columnGap, layerGap, margin } = options;
  const rowWidth = (n: number) => n * nodeWidth + Math.max(0, n - 1) * columnGap;
  const innerWidth = Math.max(0, ...rows.map(r => rowWidth(r.length)));
  const phase = new Map(pipeline.steps.map(s => [s.name, s.phase]));
  const nodes: ILayoutNode[] = [];
  const byName = new Map<string, ILayoutNode>();
  rows.forEach((row, layer) => {
    const left = margin + (innerWidth - rowWidth(row.length)) / 2;
    row.forEach((name, column) => {
      const node: ILayoutNode = {
        name,
        phase: phase.get(name) ?? null,
        layer,
        column,
        x: left + column * (nodeWidth + columnGap),
        y: margin + layer * (nodeHeight + layerGap),
        width: nodeWidth,
        height: nodeHeight
      };
      nodes.push(node);
      byName.set(name, node);
    });
  });

  const position = new Map(sequence.map((n, i) => [n, i]));
  const laidEdges: ILayoutEdge[] = edges.map(edge => {
    const s = byName.get(edge.source) as ILayoutNode;
    const t = byName.get(edge.target) as ILayoutNode;
    const back =
      (position.get(edge.source) as number) >=
      (position.get(edge.target) as number);
    const sx = s.x + s.width / 2;
    const sy = s.y + s.height;
    const tx = t.x + t.width / 2;
    const ty = t.y;
    const bend = Math.max(layerGap / 2, Math.abs(ty - sy) / 2);
    const path = `M ${sx} ${sy} C ${sx} ${sy + bend} ${tx} ${ty - bend} ${tx} ${ty}`;
    return {
      source: edge.source,
      target: edge.target,
      kind: edge.kind,
      variables: [...edge.variables],
      label: edgeLabel(edge, options.maxLabelChars),
      title:
        edge.kind === 'order'
          ? `${edge.target} runs after ${edge.source}`
          : `${edge.source} → ${edge.target}: ${edge.variables.join(', ')}`,
      path,
      labelX: (sx + tx) / 2,
      labelY: (sy + ty) / 2,
      back
    };
  });

  const depth = rows.length;
  return {
    nodes,
    edges: laidEdges,
    dangling,
    layers: rows,
    width: innerWidth + 2 * margin,
    height:
      depth > 0
        ? 2 * margin + depth * nodeHeight + (depth - 1) * layerGap
        : 2 * margin
  };
}
