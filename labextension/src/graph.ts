/**
 * The pipeline as a graph for elkjs (layered layout, orthogonal routed edges) and back:
 * what ELK is asked to place (steps sized for readable text, edges with their labels),
 * and what the drawing needs from its answer. Pure functions with no DOM, so the layout
 * is tested in node with the real ELK (elk.ts runs it).
 *
 * Sizes are chosen so text is never drawn below 11 px: nodes are as wide as their name
 * needs (up to a cap; longer names are cut with an ellipsis and keep their full name in a
 * tooltip), and the drawing is never scaled down in the panel (it scrolls instead).
 */

import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';

import { IEdge, IPipeline } from './types';

/** Font sizes of the drawing (px); the CSS uses the same (style/base.css). */
export const NAME_FONT_PX = 12;
export const DETAIL_FONT_PX = 11;
export const LABEL_FONT_PX = 11;

/** Rough advance of a character: 12 px semibold names, 11 px edge labels. */
const NAME_CHAR_WIDTH = 7.4;
const LABEL_CHAR_WIDTH = 6.3;

export const NODE_HEIGHT = 42;
export const NODE_MIN_WIDTH = 128;
export const NODE_MAX_WIDTH = 210;
const NODE_PADDING = 24;
export const LABEL_LINE_PX = 15;
const LABEL_HEIGHT = LABEL_LINE_PX;
/** Longer edge texts collapse to a count (the variables stay in the tooltip). */
export const MAX_LABEL_CHARS = 20;
/** An edge label is written one variable a line, up to this many lines. */
export const MAX_LABEL_LINES = 3;

export interface IDagNode {
  name: string;
  phase: string | null;
  /** Its notebook in a pipeline file (relative to the file's folder), else ''. */
  notebook: string;
  /** `foreach:NAME`: the list it fans out over, else null. */
  foreach: string | null;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IDagEdge {
  id: string;
  source: string;
  target: string;
  kind: 'data' | 'file' | 'order';
  /** What travels on the edge: its variables, then the files it hands over. */
  flowing: string[];
  /** Text drawn on the edge ('' when its label joined another's); `title` in full. */
  label: string;
  /** The label as drawn: one line per variable, or the count. */
  lines: string[];
  title: string;
  /** The routed line, from the source's border to the target's. */
  points: [number, number][];
  /** Top-left of the label's box. */
  labelX: number;
  labelY: number;
  labelWidth: number;
  labelHeight: number;
  /** An edge against notebook order: part of a cycle (an invalid pipeline). */
  back: boolean;
}

export interface IDagLayout {
  nodes: IDagNode[];
  edges: IDagEdge[];
  /** Edges naming a step that does not exist (e.g. `after:` of an unknown step). */
  dangling: IEdge[];
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

function flowing(edge: IEdge): string[] {
  return [...edge.variables, ...(edge.files ?? [])];
}

/**
 * The text drawn on an edge: `after` for an order edge, the variables (and files) it
 * carries, or their count when that text is longer than `max` characters.
 */
export function edgeLabel(edge: IEdge, max: number = MAX_LABEL_CHARS): string {
  if (edge.kind === 'order') {
    return 'after';
  }
  const items = flowing(edge);
  const text = items.join(', ');
  return text.length <= max ? text : countLabel(edge.variables.length, (edge.files ?? []).length);
}

/**
 * The label as drawn, in lines: one per variable (or file) when there are at most
 * MAX_LABEL_LINES short ones, so a label is narrow (the panel is); else edgeLabel's text.
 */
export function edgeLabelLines(edge: IEdge): string[] {
  const items = flowing(edge);
  if (
    edge.kind !== 'order' &&
    items.length > 1 &&
    items.length <= MAX_LABEL_LINES &&
    items.every(item => item.length <= MAX_LABEL_CHARS)
  ) {
    return items;
  }
  return [edgeLabel(edge)];
}

function countLabel(variables: number, files: number): string {
  const parts: string[] = [];
  if (variables) {
    parts.push(`${variables} var${variables === 1 ? '' : 's'}`);
  }
  if (files) {
    parts.push(`${files} file${files === 1 ? '' : 's'}`);
  }
  return parts.join(' + ');
}

export function edgeTitle(edge: IEdge): string {
  return edge.kind === 'order'
    ? `${edge.target} runs after ${edge.source}`
    : `${edge.source} → ${edge.target}: ${flowing(edge).join(', ')}`;
}

/** Width of a step's node: its name at 12 px, within [NODE_MIN_WIDTH, NODE_MAX_WIDTH]. */
export function nodeWidth(name: string): number {
  const wanted = Math.ceil(name.length * NAME_CHAR_WIDTH + NODE_PADDING);
  return Math.min(NODE_MAX_WIDTH, Math.max(NODE_MIN_WIDTH, wanted));
}

/** A fan-out step's node is wide enough for its progress (`12/12 done · 3 failed`). */
export const FANOUT_MIN_WIDTH = 176;

/** Width of the node of `step`. */
export function stepNodeWidth(step: { name: string; foreach?: string | null }): number {
  return step.foreach ? Math.max(FANOUT_MIN_WIDTH, nodeWidth(step.name)) : nodeWidth(step.name);
}

export function labelWidth(text: string | string[]): number {
  const lines = typeof text === 'string' ? [text] : text;
  return Math.ceil(Math.max(0, ...lines.map(l => l.length)) * LABEL_CHAR_WIDTH + 6);
}

export function labelHeight(lines: string[]): number {
  return lines.length * LABEL_HEIGHT;
}

const LAYOUT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
  'elk.spacing.nodeNode': '24',
  'elk.spacing.edgeNode': '14',
  'elk.spacing.edgeEdge': '10',
  'elk.spacing.edgeLabel': '3',
  'elk.layered.spacing.nodeNodeBetweenLayers': '34',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.edgeLabels.placement': 'CENTER',
  // Notebook order decides the order within a layer when crossings allow it, so the
  // drawing is stable as the notebook grows.
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF'
};

/** What ELK is asked to lay out; `dangling` edges are left out (drawn as a list). */
export function elkGraph(pipeline: Pick<IPipeline, 'steps' | 'order' | 'edges'>): {
  graph: ElkNode;
  edges: IEdge[];
  dangling: IEdge[];
} {
  const sequence = placementOrder(pipeline);
  const known = new Set(sequence);
  const byName = new Map(pipeline.steps.map(s => [s.name, s]));
  const edges = pipeline.edges.filter(e => known.has(e.source) && known.has(e.target));
  const dangling = pipeline.edges.filter(e => !known.has(e.source) || !known.has(e.target));
  const elkEdges: ElkExtendedEdge[] = edges.map((edge, i) => {
    const lines = edgeLabelLines(edge);
    return {
      id: `e${i}`,
      sources: [edge.source],
      targets: [edge.target],
      labels: [
        {
          id: `e${i}-label`,
          text: lines.join('\n'),
          width: labelWidth(lines),
          height: labelHeight(lines)
        }
      ]
    };
  });
  return {
    graph: {
      id: 'pipeline',
      layoutOptions: LAYOUT_OPTIONS,
      children: sequence.map(name => ({
        id: name,
        width: stepNodeWidth(byName.get(name) ?? { name }),
        height: NODE_HEIGHT
      })),
      edges: elkEdges
    },
    edges,
    dangling
  };
}

/** The drawing from ELK's answer to elkGraph(pipeline). */
export function fromElk(
  pipeline: Pick<IPipeline, 'steps' | 'order' | 'edges'>,
  laid: ElkNode
): IDagLayout {
  const { edges, dangling } = elkGraph(pipeline);
  const sequence = placementOrder(pipeline);
  const position = new Map(sequence.map((name, i) => [name, i]));
  const byName = new Map(pipeline.steps.map(s => [s.name, s]));
  const nodes: IDagNode[] = (laid.children ?? []).map(child => ({
    name: child.id,
    phase: byName.get(child.id)?.phase ?? null,
    notebook: byName.get(child.id)?.notebook ?? '',
    foreach: byName.get(child.id)?.foreach ?? null,
    x: child.x ?? 0,
    y: child.y ?? 0,
    width: child.width ?? NODE_MIN_WIDTH,
    height: child.height ?? NODE_HEIGHT
  }));
  const byId = new Map((laid.edges ?? []).map(e => [e.id, e]));
  const drawn: IDagEdge[] = edges.map((edge, i) => {
    const out = byId.get(`e${i}`);
    const points: [number, number][] = [];
    for (const section of out?.sections ?? []) {
      points.push([section.startPoint.x, section.startPoint.y]);
      for (const bend of section.bendPoints ?? []) {
        points.push([bend.x, bend.y]);
      }
      points.push([section.endPoint.x, section.endPoint.y]);
    }
    const label = out?.labels?.[0];
    const text = edgeLabel(edge);
    const lines = edgeLabelLines(edge);
    return {
      id: `e${i}`,
      source: edge.source,
      target: edge.target,
      kind: edge.kind,
      flowing: flowing(edge),
      label: text,
      lines,
      title: edgeTitle(edge),
      points,
      labelX: label?.x ?? points[0]?.[0] ?? 0,
      labelY: label?.y ?? points[0]?.[1] ?? 0,
      labelWidth: label?.width ?? labelWidth(lines),
      labelHeight: label?.height ?? labelHeight(lines),
      back:
        (position.get(edge.source) as number) >= (position.get(edge.target) as number)
    };
  });
  return {
    nodes,
    edges: collapseLabels(drawn),
    dangling,
    width: Math.ceil(laid.width ?? 0),
    height: Math.ceil(laid.height ?? 0)
  };
}

function overlap(a: IDagEdge, b: IDagEdge): boolean {
  return (
    a.labelX < b.labelX + b.labelWidth &&
    b.labelX < a.labelX + a.labelWidth &&
    a.labelY < b.labelY + b.labelHeight &&
    b.labelY < a.labelY + a.labelHeight
  );
}

/**
 * Labels whose boxes overlap become one: the first of the group shows how many edges it
 * stands for, its tooltip lists every edge with its variables; the others draw none.
 * ELK's centred labels rarely overlap, but nothing else guarantees it.
 */
export function collapseLabels(edges: IDagEdge[]): IDagEdge[] {
  const parent = edges.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < edges.length; i++) {
    for (let j = i + 1; j < edges.length; j++) {
      if (edges[i].label && edges[j].label && overlap(edges[i], edges[j])) {
        parent[find(j)] = find(i);
      }
    }
  }
  const groups = new Map<number, number[]>();
  edges.forEach((_, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), i]);
  });
  const result = edges.map(e => ({ ...e }));
  for (const members of groups.values()) {
    if (members.length < 2) {
      continue;
    }
    const [first, ...rest] = members;
    const text = `${members.length} edges`;
    result[first] = {
      ...result[first],
      label: text,
      lines: [text],
      labelWidth: labelWidth(text),
      labelHeight: LABEL_HEIGHT,
      title: members.map(i => edges[i].title).join('\n')
    };
    for (const i of rest) {
      result[i] = { ...result[i], label: '', lines: [] };
    }
  }
  return result;
}
