// The real backend: the generated, typed Tauri bindings.
import { commands } from "../bindings";
import type { Backend } from "./index";

export const tauriBackend: Backend = {
  kind: "tauri",
  appInfo: () => commands.appInfo(),
};
