// The Tauri backend is a thin mapping onto the generated bindings; these
// tests pin that mapping without a Tauri runtime.
const listeners: ((e: { payload: unknown }) => void)[] = [];
vi.mock("../bindings", () => ({
  commands: {
    appInfo: vi.fn(async () => ({ status: "ok", data: { version: "1", keyring: { backend: "b", usable: true, detail: "" } } })),
    agentCommand: vi.fn(async (cmd: { cmd: string }) =>
      cmd.cmd === "boom"
        ? Promise.reject(new Error("IPC down"))
        : cmd.cmd === "answer"
          ? { status: "error", error: { code: "no_call", message: "nothing rings" } }
          : { status: "ok", data: null },
    ),
    restartApp: vi.fn(async () => Promise.reject(new Error("restart refused"))),
    agentSnapshot: vi.fn(async () => ({ status: "ok", data: [{ event: "state", agent: { state: "available" } }] })),
  },
  events: {
    agentUpdate: {
      listen: vi.fn(async (cb: (e: { payload: unknown }) => void) => {
        listeners.push(cb);
        return () => listeners.splice(listeners.indexOf(cb), 1);
      }),
    },
  },
}));

import { tauriBackend } from "./tauri";
import type { AgentCommand, AgentEvent } from "./index";

describe("tauri backend", () => {
  it("passes commands through and keeps their errors", async () => {
    expect(await tauriBackend.command({ cmd: "hold" })).toEqual({ status: "ok", data: null });
    expect(await tauriBackend.command({ cmd: "answer" })).toEqual({
      status: "error",
      error: { code: "no_call", message: "nothing rings" },
    });
  });

  it("turns a thrown IPC failure into an error outcome", async () => {
    const out = await tauriBackend.command({ cmd: "boom" } as unknown as AgentCommand);
    expect(out).toEqual({ status: "error", error: { code: "internal", message: "IPC down" } });
  });

  it("returns the snapshot and follows agent-update until unsubscribed", async () => {
    const snap = await tauriBackend.snapshot();
    expect(snap.status === "ok" && snap.data).toEqual([{ event: "state", agent: { state: "available" } }]);
    const got: AgentEvent[] = [];
    const stop = await tauriBackend.subscribe((e) => got.push(e));
    listeners[0]?.({ payload: { event: "level", input: 0.5 } });
    stop();
    expect(got).toEqual([{ event: "level", input: 0.5 }]);
    expect(listeners).toHaveLength(0);
  });

  it("asks Tauri to restart the app, and reports a refusal", async () => {
    const { commands } = await import("../bindings");
    expect(await tauriBackend.restart()).toEqual({ status: "error", error: { code: "internal", message: "restart refused" } });
    expect(commands.restartApp).toHaveBeenCalledTimes(1);
    vi.mocked(commands.restartApp).mockResolvedValueOnce(undefined);
    expect(await tauriBackend.restart()).toEqual({ status: "ok", data: null });
  });
});
