/**
 * Colours and words for phases and run/step states, shared by the DAG drawing, the run
 * list and the cell badges so one state always looks the same wherever it shows.
 */

/** The phases of docs/tags.md, in pipeline order (the DAG legend uses this order). */
export const PHASES = [
  'fetch',
  'clean',
  'prepare',
  'train',
  'evaluate',
  'validate',
  'deploy',
  'inference',
  'monitor'
] as const;

const PHASE_COLOURS: { [phase: string]: string } = {
  fetch: '#4e79a7',
  clean: '#76b7b2',
  prepare: '#59a14f',
  train: '#f28e2b',
  evaluate: '#b07aa1',
  validate: '#edc948',
  deploy: '#e15759',
  inference: '#ff9da7',
  monitor: '#9c755f'
};

/** Steps with no phase, and cells of the prelude, parameters and metrics. */
export const NEUTRAL_COLOUR = '#8c8c8c';

export function phaseColour(phase: string | null | undefined): string {
  return (phase && PHASE_COLOURS[phase]) || NEUTRAL_COLOUR;
}

/** The phases present among steps, in PHASES order (then unknown ones, sorted). */
export function phasesPresent(phases: (string | null)[]): string[] {
  const present = new Set(phases.filter((p): p is string => !!p));
  const known = PHASES.filter(p => present.has(p));
  const other = Array.from(present)
    .filter(p => !(PHASES as readonly string[]).includes(p))
    .sort();
  return [...known, ...other];
}

export interface IStatusStyle {
  /** Fill of a DAG node or a status dot. */
  fill: string;
  /** Text colour readable on `fill`. */
  text: string;
  /** The word shown to the user. */
  label: string;
  /** Still changing: the panel keeps polling and animates the node. */
  active: boolean;
}

const STEP_STYLES: { [status: string]: IStatusStyle } = {
  waiting: { fill: '#e0e0e0', text: '#333333', label: 'waiting', active: true },
  running: { fill: '#2f80ed', text: '#ffffff', label: 'running', active: true },
  succeeded: { fill: '#2e9e44', text: '#ffffff', label: 'succeeded', active: false },
  cached: { fill: '#7fc98f', text: '#10311a', label: 'cached', active: false },
  failed: { fill: '#d93025', text: '#ffffff', label: 'failed', active: false },
  skipped: { fill: '#f1f1f1', text: '#777777', label: 'skipped', active: false },
  interrupted: { fill: '#f2994a', text: '#222222', label: 'interrupted', active: false },
  cancelled: { fill: '#f2994a', text: '#222222', label: 'cancelled', active: false }
};

const UNKNOWN_STYLE: IStatusStyle = {
  fill: '#bdbdbd',
  text: '#222222',
  label: 'unknown',
  active: false
};

/** How a step state (or a run state: they share words) is drawn. */
export function statusStyle(status: string | null | undefined): IStatusStyle {
  if (!status) {
    return UNKNOWN_STYLE;
  }
  return STEP_STYLES[status] ?? { ...UNKNOWN_STYLE, label: status };
}

/** A run that can still change; the panel polls it. */
export function isRunActive(status: string): boolean {
  return status === 'running';
}

/** Node colours for a DAG: by step state when a run is shown, else by phase. */
export function nodeFill(
  phase: string | null,
  stepStatus: string | undefined
): { fill: string; stroke: string; text: string } {
  const stroke = phaseColour(phase);
  const fill = stepStatus === undefined ? stroke : statusStyle(stepStatus).fill;
  return { fill, stroke, text: readableOn(fill) };
}

/** WCAG relative luminance of a '#rrggbb' colour. */
export function luminance(hex: string): number {
  const channels = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map(c =>
    c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)
  );
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two '#rrggbb' colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** The text colour that reads best on `fill`: white or black, whichever contrasts
 * more (node fills are fixed colours, the same in light and dark themes). */
export function readableOn(fill: string): string {
  return contrast(fill, '#ffffff') >= contrast(fill, '#000000') ? '#ffffff' : '#000000';
}

/** `0.4 s`, `12 s`, `3 min 05 s`, `1 h 02 min`; '' for null. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  const whole = Math.round(seconds);
  if (whole < 60) {
    return `${whole} s`;
  }
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(whole % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Seconds a run or step took so far (to `now` while it runs); null before it starts. */
export function elapsed(
  started: number | null,
  ended: number | null,
  now: number
): number | null {
  if (started === null) {
    return null;
  }
  return Math.max(0, (ended ?? now) - started);
}

/** A metric value for display: numbers to 4 significant digits, others as JSON. */
export function formatMetric(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}
