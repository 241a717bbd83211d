// English, the reference catalogue: every other language must have every key.
export const en = {
  "app.name": "Warmline",
  "app.tagline": "Agent softphone for Microsoft Teams contact centers",
  "header.state": "Agent state",
  "header.language": "Language",
  "state.offline": "Offline",
  "calls.empty.title": "No calls right now",
  "calls.empty.body": "Customer calls from the contact center will appear here.",
  "system.title": "System check",
  "system.check": "Check system",
  "system.checking": "Checking…",
  "system.version": "Version",
  "system.keyring": "Credential storage",
  "system.keyring.ok": "OS keyring ready",
  "system.keyring.fail": "OS keyring unavailable",
  "system.error": "The check failed",
} as const;

export type MessageKey = keyof typeof en;
