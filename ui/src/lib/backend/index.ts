// The one module through which the UI reaches Rust. Two implementations
// share one interface: Tauri (the real app) and an in-browser mock (UI tests
// and `npm run dev` in a plain browser). Components import only from here.
import type { AppInfo, ErrorPayload } from "../bindings";
import { tauriBackend } from "./tauri";
import { mockBackend } from "./mock";

export type { AppInfo, ErrorPayload, KeyringHealth } from "../bindings";

/** A command's outcome: the value, or a `{code, message}` error. */
export type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: ErrorPayload };

export interface Backend {
  /** Which implementation this is, for diagnostics. */
  readonly kind: "tauri" | "mock";
  /** The app version and the OS keyring's health. */
  appInfo(): Promise<Outcome<AppInfo>>;
}

function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

let current: Backend | undefined;

/** The backend for this run: Tauri inside the app, the mock elsewhere. */
export function backend(): Backend {
  current ??= inTauri() ? tauriBackend : mockBackend();
  return current;
}

/** Replaces the backend (component tests). */
export function useBackend(b: Backend): void {
  current = b;
}
