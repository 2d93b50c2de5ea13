/** SVG path data of an edge routed by ELK (orthogonal segments). */

/** A polyline through the routed points, its corners rounded. */
export function routePath(points: [number, number][], radius = 6): string {
  if (!points.length) {
    return '';
  }
  let path = `M ${points[0][0]} ${points[0][1]}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    const [x2, y2] = points[i + 1];
    const r = Math.min(
      radius,
      Math.hypot(x1 - x0, y1 - y0) / 2,
      Math.hypot(x2 - x1, y2 - y1) / 2
    );
    const before = toward(x1, y1, x0, y0, r);
    const after = toward(x1, y1, x2, y2, r);
    path += ` L ${before[0]} ${before[1]} Q ${x1} ${y1} ${after[0]} ${after[1]}`;
  }
  const last = points[points.length - 1];
  return `${path} L ${last[0]} ${last[1]}`;
}

function toward(x: number, y: number, tx: number, ty: number, r: number): [number, number] {
  const d = Math.hypot(tx - x, ty - y) || 1;
  return [x + ((tx - x) * r) / d, y + ((ty - y) * r) / d];
}
