import { en } from "./en";
import { es } from "./es";
import { pickLanguage, setLanguage, t } from "./index.svelte";

describe("i18n", () => {
  it("has every English message in Spanish, none empty", () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(es)) expect(value.trim(), key).not.toBe("");
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
