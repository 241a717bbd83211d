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

export const i18n = $state({ lang: systemLanguage() });

/** The message for `key` in the current language. */
export function t(key: MessageKey): string {
  return catalogues[i18n.lang][key];
}

/** Switches language and updates the document's `lang` for screen readers. */
export function setLanguage(lang: Lang): void {
  i18n.lang = lang;
  if (typeof document !== "undefined") document.documentElement.lang = lang;
}
