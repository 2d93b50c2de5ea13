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
  /** Width reserved in a layer for an edge passing through it to a lower layer. */
  laneWidth: number;
}

export const DEFAULT_LAYOUT: ILayoutOptions = {
  nodeWidth: 116,
  nodeHeight: 36,
  columnGap: 20,
  layerGap: 44,
  margin: 12,
  maxLabelChars: 22,
  laneWidth: 24
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
  kind: 'data' | 'file' | 'order';
  variables: string[];
  /** Short text drawn on the edge; `title` is the full text for a tooltip. */
  label: string;
  title: string;
  /** SVG path data, from the bottom of the source to the top of the target. */
  path: string;
  labelX: number;
  labelY: number;
  labelAnchor: 'start' | 'middle' | 'end';
  /** 0, or -90 for a label written along a vertical lane. */
  labelRotate: number;
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
 * above (barycenter heuristic), ties kept in sequence order. `sequence` may include the
 * lane placeholders of long edges (see layoutPipeline), linked by `edges` like steps.
 */
export function orderLayers(
  sequence: string[],
  layers: Map<string, number>,
  edges: Pick<IEdge, 'source' | 'target'>[]
): string[][] {
  const depth = Math.max(-1, ...Array.from(layers.values())) + 1;
  const rows: string[][] = Array.from({ length: depth }, () => []);
  for (const name of sequence) {
    rows[layers.get(name) ?? 0].push(name);
  }
  const rank = new Map(sequence.map((n, i) => [n, i]));
  const column = new Map<string, number>();
  rows.forEach((row, r) => {
    if (r > 0) {
      const centre = (name: string): number => {
        const parents = edges
          .filter(e => e.target === name && layers.get(e.source) === r - 1)
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

/** Name of the placeholder an edge uses to cross layer `layer` (not a valid step name). */
function laneName(edge: IEdge, layer: number): string {
  return ` lane ${edge.source}->${edge.target}@${layer}`;
}

/** What travels on an edge: its variables, then the files it hands over. */
function flowing(edge: IEdge): string[] {
  return [...edge.variables, ...(edge.files ?? [])];
}

/** `a, b, c` cut to `max` characters with an ellipsis. */
export function edgeLabel(edge: IEdge, max: number): string {
  const text = edge.kind === 'order' ? 'after' : flowing(edge).join(', ');
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

  // An edge that skips layers gets a placeholder (a lane) in each layer it crosses, so
  // it runs beside the nodes in between instead of through them.
  const lanes = new Map<IEdge, string[]>();
  const links: Pick<IEdge, 'source' | 'target'>[] = [];
  const extended = [...sequence];
  for (const edge of edges) {
    const from = layerOf.get(edge.source) as number;
    const to = layerOf.get(edge.target) as number;
    const names: string[] = [];
    for (let layer = from + 1; layer < to; layer++) {
      const lane = laneName(edge, layer);
      layerOf.set(lane, layer);
      extended.push(lane);
      names.push(lane);
    }
    lanes.set(edge, names);
    const chain = [edge.source, ...names, edge.target];
    for (let i = 1; i < chain.length; i++) {
      links.push({ source: chain[i - 1], target: chain[i] });
    }
  }
  const rows = orderLayers(extended, layerOf, links);
  const isLane = (name: string) => name.startsWith(' lane ');

  const { nodeWidth, nodeHeight, columnGap, layerGap, margin, laneWidth } = options;
  const widthOf = (name: string) => (isLane(name) ? laneWidth : nodeWidth);
  const rowWidth = (row: string[]) =>
    row.reduce((sum, name) => sum + widthOf(name), 0) +
    Math.max(0, row.length - 1) * columnGap;
  const innerWidth = Math.max(0, ...rows.map(rowWidth));
  const phase = new Map(pipeline.steps.map(s => [s.name, s.phase]));
  const nodes: ILayoutNode[] = [];
  const byName = new Map<string, ILayoutNode>();
  rows.forEach((row, layer) => {
    let x = margin + (innerWidth - rowWidth(row)) / 2;
    let column = 0;
    for (const name of row) {
      const node: ILayoutNode = {
        name,
        phase: phase.get(name) ?? null,
        layer,
        column,
        x,
        y: margin + layer * (nodeHeight + layerGap),
        width: widthOf(name),
        height: nodeHeight
      };
      x += node.width + columnGap;
      byName.set(name, node);
      if (!isLane(name)) {
        nodes.push(node);
        column++;
      }
    }
  });

  const position = new Map(sequence.map((n, i) => [n, i]));
  const firstHop = (edge: IEdge) => (lanes.get(edge) ?? [])[0] ?? edge.target;
  const lastHop = (edge: IEdge) => {
    const chain = lanes.get(edge) ?? [];
    return chain.length ? chain[chain.length - 1] : edge.source;
  };
  const centreX = (name: string) => {
    const node = byName.get(name) as ILayoutNode;
    return node.x + node.width / 2;
  };
  // Edges leave and enter a node at spread-out ports, ordered by where they go, so
  // neither the lines nor their labels start on top of each other.
  const ports = (
    name: string,
    list: IEdge[],
    other: (e: IEdge) => string
  ): Map<IEdge, number> => {
    const node = byName.get(name) as ILayoutNode;
    const sorted = [...list].sort((a, b) => centreX(other(a)) - centreX(other(b)));
    return new Map(
      sorted.map((e, i) => [e, node.x + (node.width * (i + 1)) / (sorted.length + 1)])
    );
  };
  const outPort = new Map<IEdge, number>();
  const inPort = new Map<IEdge, number>();
  for (const name of sequence) {
    ports(name, edges.filter(e => e.source === name), firstHop).forEach((x, e) =>
      outPort.set(e, x)
    );
    ports(name, edges.filter(e => e.target === name), lastHop).forEach((x, e) =>
      inPort.set(e, x)
    );
  }

  const laidEdges: ILayoutEdge[] = edges.map(edge => {
    const s = byName.get(edge.source) as ILayoutNode;
    const t = byName.get(edge.target) as ILayoutNode;
    const back =
      (position.get(edge.source) as number) >=
      (position.get(edge.target) as number);
    // Points the edge passes: out of the source's bottom, down each lane, into the
    // target's top; joined by vertical-tangent curves.
    const points: [number, number][] = [[outPort.get(edge) as number, s.y + s.height]];
    const laneNodes = (lanes.get(edge) ?? []).map(l => byName.get(l) as ILayoutNode);
    for (const node of laneNodes) {
      points.push([node.x + node.width / 2, node.y]);
      points.push([node.x + node.width / 2, node.y + node.height]);
    }
    points.push([inPort.get(edge) as number, t.y]);
    let path = `M ${points[0][0]} ${points[0][1]}`;
    for (let i = 1; i < points.length; i++) {
      const [x0, y0] = points[i - 1];
      const [x1, y1] = points[i];
      if (x0 === x1) {
        path += ` L ${x1} ${y1}`;
      } else {
        const bend = Math.max(layerGap / 2, Math.abs(y1 - y0) / 2);
        path += ` C ${x0} ${y0 + bend} ${x1} ${y1 - bend} ${x1} ${y1}`;
      }
    }
    const label = edgeLabel(edge, options.maxLabelChars);
    let placement: Pick<ILayoutEdge, 'labelX' | 'labelY' | 'labelAnchor' | 'labelRotate'>;
    if (laneNodes.length) {
      // Along the lane, written vertically: it needs no room beside the lane.
      const top = laneNodes[0].y;
      const bottom = laneNodes[laneNodes.length - 1].y + nodeHeight;
      placement = {
        labelX: points[1][0] - 3,
        labelY: (top + bottom) / 2,
        labelAnchor: 'middle',
        labelRotate: -90
      };
    } else {
      // Mid-way, on the side the edge leans to (right of a straight one).
      const [x0, y0] = points[0];
      const [x1, y1] = points[points.length - 1];
      const leansLeft = x1 < x0 - 1;
      placement = {
        labelX: (x0 + x1) / 2 + (leansLeft ? -4 : 4),
        labelY: (y0 + y1) / 2 + 3,
        labelAnchor: leansLeft ? 'end' : 'start',
        labelRotate: 0
      };
    }
    return {
      source: edge.source,
      target: edge.target,
      kind: edge.kind,
      variables: [...edge.variables],
      label,
      title:
        edge.kind === 'order'
          ? `${edge.target} runs after ${edge.source}`
          : `${edge.source} → ${edge.target}: ${flowing(edge).join(', ')}`,
      path,
      ...placement,
      back
    };
  });

  // Widen the picture so that no label is cut at its edges.
  let left = 0;
  let right = innerWidth + 2 * margin;
  for (const edge of laidEdges) {
    const width = edge.label.length * LABEL_CHAR_WIDTH;
    if (edge.labelRotate === 0) {
      const from = edge.labelAnchor === 'end' ? edge.labelX - width : edge.labelX;
      left = Math.min(left, from - margin / 2);
      right = Math.max(right, from + width + margin / 2);
    }
  }
  const shift = -left;
  if (shift > 0) {
    for (const node of byName.values()) {
      node.x += shift;
    }
    for (const edge of laidEdges) {
      edge.labelX += shift;
      edge.path = shiftPath(edge.path, shift);
    }
  }

  const depth = rows.length;
  return {
    nodes,
    edges: laidEdges,
    dangling,
    layers: rows.map(row => row.filter(name => !isLane(name))),
    width: right - left,
    height:
      depth > 0
        ? 2 * margin + depth * nodeHeight + (depth - 1) * layerGap
        : 2 * margin
  };
}

/** Rough width of a character of an edge label (10px sans-serif). */
const LABEL_CHAR_WIDTH = 5.6;

/** Moves every x of a path made of M, L and C commands with absolute coordinates. */
function shiftPath(path: string, dx: number): string {
  const tokens = path.split(' ');
  let coordinate = 0;
  return tokens
    .map(token => {
      if (/^[MLC]$/.test(token)) {
        coordinate = 0;
        return token;
      }
      const value = Number(token);
      const shifted = coordinate % 2 === 0 ? value + dx : value;
      coordinate++;
      return String(shifted);
    })
    .join(' ');
}
