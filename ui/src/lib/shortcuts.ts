// Keyboard shortcuts: one list, used by the handler and shown in settings.
import type { MessageKey } from "./i18n/en";

export type ShortcutAction = "answer" | "reject" | "hangup" | "mute" | "hold" | "dial" | "experts" | "notes" | "history" | "settings";

export interface Shortcut {
  action: ShortcutAction;
  /** `event.key`, lower case, with Ctrl (or Cmd) and Shift held. */
  key: string;
  label: MessageKey;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { action: "answer", key: "a", label: "shortcut.answer" },
  { action: "reject", key: "d", label: "shortcut.reject" },
  { action: "hangup", key: "h", label: "shortcut.hangup" },
  { action: "mute", key: "m", label: "shortcut.mute" },
  { action: "hold", key: "l", label: "shortcut.hold" },
  { action: "dial", key: "k", label: "shortcut.dial" },
  { action: "experts", key: "e", label: "shortcut.experts" },
  { action: "notes", key: "n", label: "shortcut.notes" },
  { action: "history", key: "y", label: "shortcut.history" },
  { action: "settings", key: "s", label: "shortcut.settings" },
];

/** The action for a key press, if it is one of ours. */
export function shortcutFor(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">): ShortcutAction | null {
  if (!(e.ctrlKey || e.metaKey) || !e.shiftKey || e.altKey) return null;
  const key = e.key.toLowerCase();
  return SHORTCUTS.find((s) => s.key === key)?.action ?? null;
}

export function keysText(s: Shortcut): string {
  return `Ctrl+Shift+${s.key.toUpperCase()}`;
}
