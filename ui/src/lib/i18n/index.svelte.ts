// Language selection: follows the system's language, can be changed by the
// agent. Only English and Spanish exist; anything else falls back to English.
import { en, type MessageKey } from "./en";
import { es } from "./es";

export type Lang = "en" | "es";
export const LANGS: readonly Lang[] = ["en", "es"];
const catalogues: Record<Lang, Record<MessageKey, string>> = { en, es };

/** The best supported language for a BCP 47 list such as `navigator.languages`. */
export function pickLanguage(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "es" || base === "en") return base;
  }
  return "en";
}

function systemLanguage(): Lang {
  if (typeof navigator === "undefined") return "en";
  return pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

const STORAGE_KEY = "warmline.lang";

/** The agent's saved choice, if any, else the system's language. */
function initialLanguage(): Lang {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (saved === "en" || saved === "es") return saved;
  } catch {
    // Storage can be unavailable (private mode); the system language will do.
  }
  return systemLanguage();
}

export const i18n = $state({ lang: initialLanguage() });

/** The message for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text: string = catalogues[i18n.lang][key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The message for a key made at run time (a CRM field's name, say), if the catalogue has one. */
export function tOptional(key: string): string | undefined {
  const catalogue: Record<string, string> = catalogues[i18n.lang];
  return Object.hasOwn(catalogue, key) ? catalogue[key] : undefined;
}

/** Switches language and updates the document's `lang` for screen readers. */
export function setLanguage(lang: Lang, persist = false): void {
  i18n.lang = lang;
  if (typeof document !== "undefined") document.documentElement.lang = lang;
  if (persist) {
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, lang);
    } catch {
      // Not saved; the choice still holds for this session.
    }
  }
}
