/**
 * The host settings of the Submit form, one set per engine, as the engine's
 * `submit_options()` name them (GET /liminal/status). Non-secret values are remembered
 * for the browser session (sessionStorage), so a reload keeps the host and folder typed;
 * secrets (a password, a token) live in memory only and are never written anywhere by
 * the panel. Pure functions, so they are tested without a browser.
 */

import { IEngineInfo, ISettings, ISubmitOption } from './types';

/** engine -> setting name -> the text typed */
export type SubmitTexts = { [engine: string]: { [name: string]: string } };

export const SESSION_KEY = 'liminal-jupyter:submit-settings';

/** The engines the Submit form offers: those whose capabilities say `submit`. */
export function submitEngines(engines: IEngineInfo[]): IEngineInfo[] {
  return engines.filter(e => e.capabilities.submit);
}

/** The engine Submit picks first: KFP when the server has it (the panel's old default). */
export function defaultSubmitEngine(engines: IEngineInfo[]): string | null {
  const names = submitEngines(engines).map(e => e.name);
  return names.includes('kfp') ? 'kfp' : names[0] ?? null;
}

/** The texts of one engine's fields: typed ones, else the panel's own settings. */
export function fieldTexts(
  engine: string,
  options: ISubmitOption[],
  texts: SubmitTexts,
  settings: ISettings
): { [name: string]: string } {
  const typed = texts[engine] ?? {};
  const fallback: { [name: string]: string } =
    engine === 'kfp'
      ? { host: settings.kfpHost.trim(), image: settings.defaultImage.trim() }
      : {};
  const out: { [name: string]: string } = {};
  for (const option of options) {
    out[option.name] = typed[option.name] ?? fallback[option.name] ?? '';
  }
  return out;
}

/** The required fields left empty, by label (Submit is disabled while there are any). */
export function missingFields(
  options: ISubmitOption[],
  values: { [name: string]: string }
): string[] {
  return options
    .filter(o => o.required && !(values[o.name] ?? '').trim())
    .map(o => o.label);
}

/** The `settings` of POST /liminal/submit: every field given, trimmed (secrets as typed). */
export function submitSettings(
  options: ISubmitOption[],
  values: { [name: string]: string }
): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const option of options) {
    const raw = values[option.name] ?? '';
    const value = option.secret ? raw : raw.trim();
    if (value.trim()) {
      out[option.name] = value;
    }
  }
  return out;
}

/** What may be remembered for the session: every engine's texts without its secrets. */
export function withoutSecrets(texts: SubmitTexts, engines: IEngineInfo[]): SubmitTexts {
  const secret = new Map(
    engines.map(e => [
      e.name,
      new Set((e.submit_options ?? []).filter(o => o.secret).map(o => o.name))
    ])
  );
  const out: SubmitTexts = {};
  for (const [engine, values] of Object.entries(texts)) {
    const hidden = secret.get(engine) ?? new Set<string>();
    const kept: { [name: string]: string } = {};
    for (const [name, value] of Object.entries(values)) {
      if (!hidden.has(name) && !/password|token|secret/i.test(name)) {
        kept[name] = value;
      }
    }
    out[engine] = kept;
  }
  return out;
}

/** The session's remembered texts ({} when none, or unreadable). */
export function loadSubmitTexts(storage: Pick<Storage, 'getItem'> | null): SubmitTexts {
  try {
    const raw = storage?.getItem(SESSION_KEY);
    const data = raw ? JSON.parse(raw) : {};
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      return {};
    }
    const out: SubmitTexts = {};
    for (const [engine, values] of Object.entries(data)) {
      if (values && typeof values === 'object' && !Array.isArray(values)) {
        const kept: { [name: string]: string } = {};
        for (const [name, value] of Object.entries(values as object)) {
          if (typeof value === 'string') {
            kept[name] = value;
          }
        }
        out[engine] = kept;
      }
    }
    return out;
  } catch {
    return {};
  }
}

/** Remember the texts for the session, secrets left out; a full storage is ignored. */
export function saveSubmitTexts(
  storage: Pick<Storage, 'setItem'> | null,
  texts: SubmitTexts,
  engines: IEngineInfo[]
): void {
  try {
    storage?.setItem(SESSION_KEY, JSON.stringify(withoutSecrets(texts, engines)));
  } catch {
    // a browser that refuses storage only loses the convenience
  }
}
