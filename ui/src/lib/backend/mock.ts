// An in-browser stand-in for the Rust side, for UI tests and plain-browser
// development. It returns the same shapes the bindings declare.
import type { AppInfo } from "../bindings";
import type { Backend, Outcome } from "./index";

export interface MockOptions {
  /** Make the keyring look unavailable. */
  keyringDown?: boolean;
}

export function mockBackend(options: MockOptions = {}): Backend {
  return {
    kind: "mock",
    async appInfo(): Promise<Outcome<AppInfo>> {
      return {
        status: "ok",
        data: {
          version: "0.0.0-mock",
          keyring: options.keyringDown
            ? {
                backend: "Secret Service (D-Bus)",
                usable: false,
                detail: "the OS keyring is not available (mock)",
              }
            : { backend: "mock keyring", usable: true, detail: "mock keyring is unlocked and usable" },
        },
      };
    },
  };
}
