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

/**
 * A CRM field's name for people: a machine name ("customer_since",
 * "openCases", "account-tier") spelled out with its first letter capitalised
 * ("Customer since", "Open cases", "Account tier"); a name already written
 * for people ("Account manager") is kept as it is.
 */
export function humanizeFieldName(name: string): string {
  if (/\s/.test(name) || !/[_\-]|[a-z][A-Z]/.test(name)) return name.charAt(0).toUpperCase() + name.slice(1);
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[_\-\s]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Initials for an avatar. */
export function initials(name: string | null | undefined): string {
  if (!name) return "#";
  const parts = name.replace(/[^\p{L}\p{N} ]/gu, " ").trim().split(/\s+/).filter(Boolean);
  const first = parts[0]?.[0] ?? "";
  const last = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? "") : "";
  return (first + last).toUpperCase() || "#";
}

/**
 * The user and host of a SIP or tel URI (`sip:+15551234567@host;user=phone`,
 * `"Alice" <sip:alice@contoso.com>`, `tel:+1555...`), or of a bare number or
 * address. Parameters and headers are dropped; the host is null when there is none.
 */
export function uriParts(target: string): { user: string; host: string | null } {
  let s = target.trim();
  const angle = /<([^>]*)>/.exec(s);
  if (angle?.[1] !== undefined) s = angle[1].trim();
  s = s.replace(/^(sips?|tel):/i, "");
  const q = s.indexOf("?");
  if (q >= 0) s = s.slice(0, q);
  const at = s.lastIndexOf("@");
  if (at < 0) return { user: s.split(";")[0] ?? s, host: null };
  const host = s.slice(at + 1).split(/[;:>]/)[0] ?? "";
  return { user: s.slice(0, at).split(";")[0] ?? "", host: host || null };
}

/** The number in `user` when it is a phone number (`+`, digits, spacing), without the spacing; else null. */
export function phoneDigits(user: string): string | null {
  const u = user.trim();
  if (!/^\+?[\d\s\-().]+$/.test(u)) return null;
  const digits = u.replace(/[^\d]/g, "");
  if (digits.length < 2) return null;
  return (u.startsWith("+") ? "+" : "") + digits;
}

// ITU-T E.164 country codes two digits long; 1 and 7 have one digit, the rest three.
const TWO_DIGIT_CC = new Set(
  "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split(" "),
);

/**
 * A phone number for reading: the country code set apart in E.164 numbers
 * (`+44 2079460100`), North American numbers grouped (`+1 555-012-3456`);
 * extensions and national numbers stay as they are.
 */
export function formatPhone(number: string): string {
  const n = phoneDigits(number);
  if (n === null) return number;
  if (!n.startsWith("+")) return n;
  const digits = n.slice(1);
  const ccLength = digits[0] === "1" || digits[0] === "7" ? 1 : TWO_DIGIT_CC.has(digits.slice(0, 2)) ? 2 : 3;
  if (digits.length <= ccLength + 2) return n;
  const cc = digits.slice(0, ccLength);
  const rest = digits.slice(ccLength);
  if (cc === "1" && rest.length === 10) return `+1 ${rest.slice(0, 3)}-${rest.slice(3, 6)}-${rest.slice(6)}`;
  return `+${cc} ${rest}`;
}

/** A key under which two ways of writing one party compare equal (a number on any host, or user@host). */
export function partyKey(target: string): string {
  const { user, host } = uriParts(target);
  const phone = phoneDigits(user);
  if (phone !== null) return `tel:${phone}`;
  return `sip:${user.toLowerCase()}${host ? `@${host.toLowerCase()}` : ""}`;
}

/**
 * A party (a transfer target, say) for people: the name of a known person
 * who is dialled at that address, else the URI's user part (as a phone
 * number when it is one). `full` is the target as given, for a tooltip.
 */
export function partyName(
  target: string,
  known: readonly { name: string; dial?: string | null }[] = [],
): { text: string; full: string } {
  const full = target.trim();
  const key = partyKey(full);
  const person = known.find((k) => k.dial && partyKey(k.dial) === key);
  if (person) return { text: person.name, full };
  const { user } = uriParts(full);
  if (!user) return { text: full, full };
  return { text: phoneDigits(user) !== null ? formatPhone(user) : user, full };
}
