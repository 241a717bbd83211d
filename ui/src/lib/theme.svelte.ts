// Light, dark or whatever the system says; saved for the next start.
export type ThemeMode = "light" | "dark" | "system";
const KEY = "warmline.theme";

function saved(): ThemeMode {
  try {
    const v = globalThis.localStorage?.getItem(KEY);
    if (v === "light" || v === "dark" || v === "system") return v;
  } catch {
    // No storage: follow the system.
  }
  return "system";
}

export const theme = $state({ mode: saved() });

export function applyTheme(mode: ThemeMode = theme.mode, persist = false): void {
  theme.mode = mode;
  if (typeof document !== "undefined") {
    if (mode === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = mode;
  }
  if (persist) {
    try {
      globalThis.localStorage?.setItem(KEY, mode);
    } catch {
      // Not saved; it still applies now.
    }
  }
}
