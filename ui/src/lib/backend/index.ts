// The one module through which the UI reaches Rust. Two implementations
// share one interface: Tauri (the real app) and an in-browser mock (UI tests
// and `npm run dev` in a plain browser). Components import only from here.
import type {
  AgentCommand_Deserialize,
  AgentEvent_Deserialize,
  AppInfo,
  ErrorPayload,
} from "../bindings";
import { tauriBackend } from "./tauri";
import { mockBackend, optionsFromQuery } from "./mock";

export type { AppInfo, ConnectionSettings_Deserialize as ConnectionSettings, ErrorPayload, KeyringHealth } from "../bindings";
export type AgentCommand = AgentCommand_Deserialize;
export type AgentEvent = AgentEvent_Deserialize;

/** A command's outcome: the value, or a `{code, message}` error. */
export type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: ErrorPayload };

export interface Backend {
  /** Which implementation this is, for diagnostics. */
  readonly kind: "tauri" | "mock";
  /** The app version and the OS keyring's health. */
  appInfo(): Promise<Outcome<AppInfo>>;
  /** Runs one agent command; its effects arrive as events. */
  command(cmd: AgentCommand): Promise<Outcome<null>>;
  /** The events that rebuild the current state; call once after `subscribe`. */
  snapshot(): Promise<Outcome<AgentEvent[]>>;
  /**
   * Restarts the app (connection settings saved from the settings screen
   * apply at the next start). Inside Tauri it does not come back.
   */
  restart(): Promise<Outcome<null>>;
  /** Follows the event stream; returns the function that stops following. */
  subscribe(handler: (event: AgentEvent) => void): Promise<() => void>;
}

function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

let current: Backend | undefined;

/** The backend for this run: Tauri inside the app, the mock elsewhere. */
export function backend(): Backend {
  current ??= inTauri()
    ? tauriBackend
    : mockBackend(optionsFromQuery(typeof location === "undefined" ? "" : location.search));
  return current;
}

/** Replaces the backend (component tests). */
export function useBackend(b: Backend): void {
  current = b;
}
