/**
 * "Fit to view" of the main-area DAG that keeps its text readable: React Flow's own fit
 * shrinks a big graph until its labels are a few pixels high; here the zoom stops at the
 * size where the smallest label is still READABLE_PX on screen and the rest is a pan
 * away. Pure, so it is tested without a browser.
 */

import { DETAIL_FONT_PX, LABEL_FONT_PX, NAME_FONT_PX } from './graph';

/** The smallest text the DAG draws (edge labels and node details, graph.ts's font sizes
 * as in style/base.css) and the smallest size text may appear on screen: zooming out stops
 * where they meet. */
export const SMALLEST_LABEL_PX = Math.min(NAME_FONT_PX, DETAIL_FONT_PX, LABEL_FONT_PX);
export const READABLE_PX = 11;
export const MIN_READABLE_ZOOM = READABLE_PX / SMALLEST_LABEL_PX;

/**
 * Where "fit to view" puts a drawing of `width` x `height` in a view of `viewWidth` x
 * `viewHeight`: the whole drawing when it fits at a readable zoom (never above 1), else
 * the readable zoom with the drawing's top (its first steps) in view, centred
 * sideways when it is narrow enough, and the rest a pan or scroll away.
 */
export function fitViewport(
  width: number,
  height: number,
  viewWidth: number,
  viewHeight: number,
  padding = 0.04
): { x: number; y: number; zoom: number } {
  const padX = viewWidth * padding;
  const padY = viewHeight * padding;
  const zoom = Math.min(
    1,
    (viewWidth - 2 * padX) / Math.max(width, 1),
    (viewHeight - 2 * padY) / Math.max(height, 1)
  );
  const z = Math.max(zoom, MIN_READABLE_ZOOM);
  const x = width * z <= viewWidth ? (viewWidth - width * z) / 2 : padX;
  const y = height * z <= viewHeight ? (viewHeight - height * z) / 2 : padY;
  return { x, y, zoom: z };
}
