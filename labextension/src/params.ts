/**
 * The parameter form's logic: which input each parameter gets, how the text a user typed
 * becomes a typed value, and what is wrong with it. The server checks again (400 with
 * the runner's own message); checking here lets the panel point at the field at once.
 */

import { IParameter, JSONValue } from './types';

export type FieldKind = 'select' | 'checkbox' | 'number' | 'text' | 'json';

export interface IFieldSpec {
  kind: FieldKind;
  /** For `select`: the option labels, and the values they stand for. */
  options: { label: string; value: JSONValue }[];
  min: number | null;
  max: number | null;
  /** For `number`: '1' for int parameters, 'any' for floats. */
  step: string | null;
  placeholder: string;
}

/** The label of a value in a select, as Python would write it for None/True/False. */
export function valueLabel(value: JSONValue): string {
  if (value === null) {
    return 'None';
  }
  if (value === true) {
    return 'True';
  }
  if (value === false) {
    return 'False';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The input for a parameter: choices → select, bool → checkbox, numbers with bounds. */
export function fieldSpec(param: IParameter): IFieldSpec {
  const base: IFieldSpec = {
    kind: 'text',
    options: [],
    min: null,
    max: null,
    step: null,
    placeholder: param.nullable ? 'None' : ''
  };
  if (param.choices && param.choices.length) {
    const values = [...param.choices];
    if (param.nullable && !values.includes(null)) {
      values.push(null);
    }
    return {
      ...base,
      kind: 'select',
      options: values.map(v => ({ label: valueLabel(v), value: v }))
    };
  }
  switch (param.type) {
    case 'bool':
      return param.nullable
        ? {
            ...base,
            kind: 'select',
            options: [true, false, null].map(v => ({ label: valueLabel(v), value: v }))
          }
        : { ...base, kind: 'checkbox' };
    case 'int':
    case 'float':
      return {
        ...base,
        kind: 'number',
        min: param.minimum,
        max: param.maximum,
        step: param.type === 'int' ? '1' : 'any'
      };
    case 'str':
      return base;
    default:
      return { ...base, kind: 'json', placeholder: 'JSON, e.g. [1, 2] or {"a": 1}' };
  }
}

/** The text a field starts with: the default, written as the field expects it. */
export function initialText(param: IParameter): string {
  const value = param.default;
  if (value === null) {
    return '';
  }
  const spec = fieldSpec(param);
  if (spec.kind === 'select') {
    const i = spec.options.findIndex(o => sameValue(o.value, value));
    return i >= 0 ? String(i) : '';
  }
  if (spec.kind === 'checkbox') {
    return value ? 'true' : 'false';
  }
  if (typeof value === 'string' && spec.kind === 'text') {
    return value;
  }
  return JSON.stringify(value);
}

export type Coerced = { ok: true; value: JSONValue } | { ok: false; error: string };

/**
 * The typed value of what the user entered in a field (`text` as the field holds it: the
 * option index for a select, 'true'/'false' for a checkbox), or why it is not valid.
 */
export function coerceParameter(param: IParameter, text: string): Coerced {
  const spec = fieldSpec(param);
  const trimmed = text.trim();
  if (spec.kind === 'select') {
    const option = spec.options[Number(trimmed)];
    if (trimmed === '' || option === undefined) {
      return { ok: false, error: 'choose a value' };
    }
    return { ok: true, value: option.value };
  }
  if (spec.kind === 'checkbox') {
    return { ok: true, value: trimmed === 'true' };
  }
  if (trimmed === '' && param.nullable && spec.kind !== 'text') {
    return { ok: true, value: null };
  }
  if (spec.kind === 'number') {
    return coerceNumber(param, trimmed);
  }
  if (spec.kind === 'json') {
    if (trimmed === '') {
      return { ok: false, error: 'enter a JSON value' };
    }
    let value: JSONValue;
    try {
      value = JSON.parse(trimmed) as JSONValue;
    } catch {
      return { ok: false, error: 'not valid JSON' };
    }
    if (param.type === 'list' && !Array.isArray(value)) {
      return { ok: false, error: 'expected a JSON list, e.g. [1, 2]' };
    }
    if (
      param.type === 'dict' &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      return { ok: false, error: 'expected a JSON object, e.g. {"a": 1}' };
    }
    return { ok: true, value };
  }
  // str: the text as typed (spaces kept); empty means None only for a nullable one.
  if (text === '' && param.nullable && param.default === null) {
    return { ok: true, value: null };
  }
  return { ok: true, value: text };
}

function coerceNumber(param: IParameter, text: string): Coerced {
  if (text === '') {
    return { ok: false, error: 'required' };
  }
  const value = Number(text);
  if (!isFinite(value) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) {
    return { ok: false, error: `not a number: ${text}` };
  }
  if (param.type === 'int' && !Number.isInteger(value)) {
    return { ok: false, error: `not a whole number: ${text}` };
  }
  if (param.minimum !== null && value < param.minimum) {
    return { ok: false, error: `must be at least ${param.minimum}` };
  }
  if (param.maximum !== null && value > param.maximum) {
    return { ok: false, error: `must be at most ${param.maximum}` };
  }
  return { ok: true, value };
}

export function sameValue(a: JSONValue, b: JSONValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface IFormResult {
  /** Parameters whose value differs from the notebook's default: what a run overrides. */
  overrides: { [name: string]: JSONValue };
  errors: { [name: string]: string };
  valid: boolean;
}

/**
 * Reads the whole form. Only values that differ from the defaults are sent, so a run
 * record shows what the user changed; untouched fields keep the notebook's defaults.
 */
export function readForm(
  params: IParameter[],
  texts: { [name: string]: string }
): IFormResult {
  const overrides: { [name: string]: JSONValue } = {};
  const errors: { [name: string]: string } = {};
  for (const param of params) {
    const text = texts[param.name];
    if (text === undefined) {
      continue;
    }
    const result = coerceParameter(param, text);
    if (!result.ok) {
      errors[param.name] = result.error;
    } else if (!sameValue(result.value, param.default)) {
      overrides[param.name] = result.value;
    }
  }
  return { overrides, errors, valid: Object.keys(errors).length === 0 };
}

/**
 * Form texts after the pipeline was re-read: a user's edit survives for a parameter that
 * still exists with the same type; new or retyped parameters start from their default.
 */
export function mergeFormTexts(
  previous: { params: IParameter[]; texts: { [name: string]: string } } | null,
  params: IParameter[]
): { [name: string]: string } {
  const texts: { [name: string]: string } = {};
  for (const param of params) {
    const old = previous?.params.find(p => p.name === param.name);
    const edited =
      old &&
      old.type === param.type &&
      sameValue(old.choices, param.choices) &&
      previous?.texts[param.name] !== undefined &&
      previous.texts[param.name] !== initialText(old);
    texts[param.name] = edited
      ? (previous?.texts[param.name] as string)
      : initialText(param);
  }
  return texts;
}
