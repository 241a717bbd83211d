// The real backend: the generated, typed Tauri bindings.
import { commands, events } from "../bindings";
import type { Backend, Outcome } from "./index";

/** Turns a thrown IPC failure into an outcome, so no caller has to catch. */
async function settle<T>(run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await run();
  } catch (e) {
    return { status: "error", error: { code: "internal", message: e instanceof Error ? e.message : String(e) } };
  }
}

export const tauriBackend: Backend = {
  kind: "tauri",
  appInfo: () => settle(() => commands.appInfo()),
  command: (cmd) => settle(() => commands.agentCommand(cmd)),
  snapshot: () => settle(() => commands.agentSnapshot()),
  restart: () =>
    settle(async () => {
      await commands.restartApp();
      return { status: "ok", data: null };
    }),
  async subscribe(handler) {
    const unlisten = await events.agentUpdate.listen((e) => handler(e.payload));
    return unlisten;
  },
};
