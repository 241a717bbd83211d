import { en } from "./en";
import { es } from "./es";
import { pickLanguage, setLanguage, t } from "./index.svelte";

describe("i18n", () => {
  it("has every English message in Spanish, none empty", () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(es)) expect(value.trim(), key).not.toBe("");
    for (const [key, value] of Object.entries(en)) expect(value.trim(), key).not.toBe("");
  });

  it("uses the same {placeholders} in both languages", () => {
    const holes = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, value] of Object.entries(en)) expect(holes(es[key as keyof typeof en]), key).toEqual(holes(value));
  });

  it("fills placeholders", () => {
    setLanguage("es");
    expect(t("health.sig.reconnecting", { attempt: 2 })).toBe("Reconectando (intento 2)");
    setLanguage("en");
  });

  it("follows the system language and falls back to English", () => {
    expect(pickLanguage(["es-MX", "en-US"])).toBe("es");
    expect(pickLanguage(["fr-FR", "en-GB"])).toBe("en");
    expect(pickLanguage(["de"])).toBe("en");
  });

  it("switches language and the document's lang", () => {
    setLanguage("es");
    expect(t("system.check")).toBe("Comprobar el sistema");
    expect(document.documentElement.lang).toBe("es");
    setLanguage("en");
    expect(t("system.check")).toBe("Check system");
  });
});
