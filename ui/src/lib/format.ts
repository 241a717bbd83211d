// Formatting for people: durations, times and phone numbers, in the UI's language.

/** `m:ss`, or `h:mm:ss` past an hour. */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A date and time in the UI's language, or an empty string. */
export function when(ms: number | null | undefined, lang: string): string {
  if (ms === null || ms === undefined) return "";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

/** Initials for an avatar. */
export function initials(name: string | null | undefined): string {
  if (!name) return "#";
  const parts = name.replace(/[^\p{L}\p{N} ]/gu, " ").trim().split(/\s+/).filter(Boolean);
  const first = parts[0]?.[0] ?? "";
  const last = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? "") : "";
  return (first + last).toUpperCase() || "#";
}
