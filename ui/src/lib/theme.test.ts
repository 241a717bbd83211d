import { applyTheme, theme } from "./theme.svelte";

describe("theme", () => {
  afterEach(() => {
    applyTheme("system", true);
    localStorage.clear();
  });
  it("sets the document's theme, follows the system when asked, and remembers the choice", () => {
    applyTheme("dark", true);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem("warmline.theme")).toBe("dark");
    applyTheme("system");
    expect(document.documentElement.dataset.theme).toBeUndefined();
    expect(theme.mode).toBe("system");
  });
});
