/**
 * Cell roles as tags (docs/tags.md): what the "Pipeline role" control writes into a cell's
 * `metadata.tags`. A cell has at most one structural role (step, imports, functions,
 * parameters, metrics, skip); `after:` and `model:` add to a step's cell; step options
 * (cpu:, image:, ...) and tags that are not ours are always kept.
 */

export type RoleKind =
  | 'step'
  | 'after'
  | 'imports'
  | 'functions'
  | 'parameters'
  | 'metrics'
  | 'skip'
  | 'model'
  | 'none';

export interface IRole {
  kind: RoleKind;
  /** step: the step name; after: comma-separated step names; model: VAR or VAR=NAME. */
  name?: string;
}

/** Roles offered in menus, in the order shown. */
export const ROLE_KINDS: { kind: RoleKind; label: string; needsName: boolean }[] = [
  { kind: 'step', label: 'Start step…', needsName: true },
  { kind: 'after', label: 'Run after steps…', needsName: true },
  { kind: 'imports', label: 'Imports (run before every step)', needsName: false },
  { kind: 'functions', label: 'Functions (run before every step)', needsName: false },
  { kind: 'parameters', label: 'Parameters', needsName: false },
  { kind: 'metrics', label: 'Metrics', needsName: false },
  { kind: 'model', label: 'Model variable…', needsName: true },
  { kind: 'skip', label: 'Skip (leave out of the pipeline)', needsName: false },
  { kind: 'none', label: 'Clear role', needsName: false }
];

const STRUCTURAL_PLAIN = new Set([
  'imports',
  'functions',
  'parameters',
  'pipeline-parameters',
  'metrics',
  'pipeline-metrics',
  'skip'
]);

/** A tag that gives a cell its structural role (Kale aliases included). */
export function isStructuralTag(tag: string): boolean {
  return (
    STRUCTURAL_PLAIN.has(tag) || tag.startsWith('step:') || tag.startsWith('block:')
  );
}

function isAfterTag(tag: string): boolean {
  return tag.startsWith('after:') || tag.startsWith('prev:');
}

const STEP_NAME = /^[a-z_][a-z0-9_-]*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a role's name is unusable, or null when it is fine. */
export function roleNameError(role: IRole): string | null {
  const name = (role.name ?? '').trim();
  switch (role.kind) {
    case 'step':
      return STEP_NAME.test(name)
        ? null
        : 'a step name is lower case letters, digits, _ and -, starting with a letter or _';
    case 'after': {
      const names = name.split(',').map(n => n.trim());
      return names.length && names.every(n => STEP_NAME.test(n))
        ? null
        : 'list step names separated by commas, e.g. fetch,prepare';
    }
    case 'model': {
      const [variable, registered] = name.split('=', 2);
      if (!IDENTIFIER.test((variable ?? '').trim())) {
        return 'a model is a Python variable name, optionally =REGISTERED_NAME';
      }
      return registered !== undefined && registered.trim() === ''
        ? 'the registered name after = is empty'
        : null;
    }
    default:
      return null;
  }
}

/** The tag a role writes, or null for `none`. */
export function roleTag(role: IRole): string | null {
  const name = (role.name ?? '').trim();
  switch (role.kind) {
    case 'step':
      return `step:${name}`;
    case 'after':
      return `after:${name
        .split(',')
        .map(n => n.trim())
        .filter(Boolean)
        .join(',')}`;
    case 'model':
      return `model:${name.replace(/\s+/g, '')}`;
    case 'none':
      return null;
    default:
      return role.kind;
  }
}

/**
 * The cell's tags after setting `role`. Structural roles replace the structural tag
 * (and a step's `after:` goes with its `step:`); `after:` replaces earlier `after:`/`prev:`
 * tags; `model:VAR` replaces a tag for the same VAR; `none` removes structural, after and
 * model tags. Order is kept and no tag appears twice.
 */
export function applyRole(tags: readonly string[], role: IRole): string[] {
  const error = roleNameError(role);
  if (error) {
    throw new Error(error);
  }
  const tag = roleTag(role);
  let kept: string[];
  switch (role.kind) {
    case 'after':
      kept = tags.filter(t => !isAfterTag(t));
      break;
    case 'model': {
      const variable = (tag as string).slice('model:'.length).split('=')[0];
      kept = tags.filter(
        t => !(t.startsWith('model:') && t.slice(6).split('=')[0] === variable)
      );
      break;
    }
    case 'none':
      kept = tags.filter(
        t => !isStructuralTag(t) && !isAfterTag(t) && !t.startsWith('model:')
      );
      break;
    default: {
      const leavingStep = role.kind !== 'step';
      kept = tags.filter(
        t => !isStructuralTag(t) && !(leavingStep && isAfterTag(t))
      );
    }
  }
  const result = tag === null ? kept : [tag, ...kept];
  return Array.from(new Set(result));
}

/** The cell's structural role as its tags say, for a menu's check mark. */
export function currentRole(tags: readonly string[]): IRole {
  for (const tag of tags) {
    if (tag.startsWith('step:') || tag.startsWith('block:')) {
      return { kind: 'step', name: tag.slice(tag.indexOf(':') + 1) };
    }
    if (tag === 'parameters' || tag === 'pipeline-parameters') {
      return { kind: 'parameters' };
    }
    if (tag === 'metrics' || tag === 'pipeline-metrics') {
      return { kind: 'metrics' };
    }
    if (tag === 'imports' || tag === 'functions' || tag === 'skip') {
      return { kind: tag };
    }
  }
  return { kind: 'none' };
}

/**
 * Parses a role as typed in the command palette or passed to the command:
 * `step:train`, `after:a,b`, `model:clf`, `imports`, `none`, ...
 */
export function parseRole(text: string): IRole {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kind = (colon >= 0 ? trimmed.slice(0, colon) : trimmed) as RoleKind;
  if (!ROLE_KINDS.some(r => r.kind === kind)) {
    throw new Error(`unknown role '${trimmed}'`);
  }
  return colon >= 0 ? { kind, name: trimmed.slice(colon + 1) } : { kind };
}
