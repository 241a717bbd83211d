// Disposition codes for people. The configuration gives each code a label
// (`[agent] dispositions = [{ code, label }]`); the codes Warmline ships
// with come with English labels, so for those the UI's own translation is
// shown instead, unless the administrator wrote a label of their own.
import type { Disposition } from "./bindings";
import type { MessageKey } from "./i18n/en";
import { t } from "./i18n/index.svelte";

/**
 * The codes of the default configuration (`AgentConfig::default` in
 * crates/agent/src/config.rs and assets/warmline.example.toml), with the
 * stock English labels they ship with.
 */
const KNOWN: Record<string, { key: MessageKey; stock: readonly string[] }> = {
  resolved: { key: "disposition.resolved", stock: ["Resolved"] },
  follow_up: { key: "disposition.follow_up", stock: ["Follow-up needed"] },
  escalated: { key: "disposition.escalated", stock: ["Escalated"] },
  callback: { key: "disposition.callback", stock: ["Callback scheduled"] },
  wrong_number: { key: "disposition.wrong_number", stock: ["Wrong number"] },
};

/** `callback_requested` → `Callback requested`; `NO-ANSWER` → `No answer`. */
export function humanise(code: string): string {
  const words = code.trim().split(/[\s_\-.]+/).filter(Boolean);
  if (words.length === 0) return code;
  const shouting = code === code.toUpperCase();
  const text = words.map((w) => (shouting ? w.toLowerCase() : w)).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * What the agent reads for `code`: the administrator's own label first,
 * then the translation of a well-known code, then the code in words.
 */
export function dispositionLabel(code: string, configured: readonly Disposition[] | null | undefined): string {
  const label = configured?.find((d) => d.code === code)?.label.trim() ?? "";
  const known = Object.hasOwn(KNOWN, code) ? KNOWN[code] : undefined;
  const custom = label !== "" && label !== code && !(known && known.stock.includes(label));
  if (custom) return label;
  if (known) return t(known.key);
  return humanise(code);
}
