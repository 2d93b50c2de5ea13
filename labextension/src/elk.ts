/**
 * Runs elkjs on a pipeline (graph.ts says what is asked and how the answer is read).
 * ELK is large, so it is loaded on first use, in its own chunk; layouts are kept by the
 * pipeline's shape, so the panel and the main-area tab, and every re-render while a run
 * is polled, share one computation.
 */

import type { ELK as IElk } from 'elkjs/lib/elk-api';

import { elkGraph, fromElk, IDagLayout } from './graph';
import { IPipeline } from './types';

type Shape = Pick<IPipeline, 'steps' | 'order' | 'edges'>;

let elk: Promise<IElk> | null = null;
const layouts = new Map<string, Promise<IDagLayout>>();
const MAX_KEPT = 20;

function engine(): Promise<IElk> {
  if (!elk) {
    elk = import('elkjs/lib/elk.bundled.js').then(module => {
      const ELK = (module as any).default ?? module;
      return new ELK() as IElk;
    });
  }
  return elk;
}

/** What decides the drawing: step names, phases, notebooks, fan-outs, order and edges. */
export function shapeKey(pipeline: Shape): string {
  return JSON.stringify([
    pipeline.steps.map(s => [s.name, s.phase, s.notebook ?? '', s.foreach ?? null]),
    pipeline.order,
    pipeline.edges
  ]);
}

/** The pipeline laid out by ELK (cached by shapeKey). */
export function layoutPipeline(pipeline: Shape): Promise<IDagLayout> {
  const key = shapeKey(pipeline);
  let found = layouts.get(key);
  if (!found) {
    found = engine().then(async elk => fromElk(pipeline, await elk.layout(elkGraph(pipeline).graph)));
    if (layouts.size >= MAX_KEPT) {
      layouts.delete(layouts.keys().next().value as string);
    }
    layouts.set(key, found);
    // A failed layout is not kept: the next render tries again.
    found.catch(() => layouts.delete(key));
  }
  return found;
}
