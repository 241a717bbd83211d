import { SHORTCUTS, shortcutFor } from "./shortcuts";

describe("shortcuts", () => {
  it("maps Ctrl+Shift+letter to actions and ignores other keys", () => {
    expect(shortcutFor({ key: "A", ctrlKey: true, metaKey: false, shiftKey: true, altKey: false })).toBe("answer");
    expect(shortcutFor({ key: "h", ctrlKey: true, metaKey: false, shiftKey: true, altKey: false })).toBe("hangup");
    expect(shortcutFor({ key: "m", ctrlKey: false, metaKey: true, shiftKey: true, altKey: false })).toBe("mute");
    expect(shortcutFor({ key: "a", ctrlKey: true, metaKey: false, shiftKey: false, altKey: false })).toBeNull();
    expect(shortcutFor({ key: "q", ctrlKey: true, metaKey: false, shiftKey: true, altKey: false })).toBeNull();
  });
  it("has one action per key", () => {
    expect(new Set(SHORTCUTS.map((s) => s.key)).size).toBe(SHORTCUTS.length);
  });
});
