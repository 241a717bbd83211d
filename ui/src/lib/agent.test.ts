import { vi } from "vitest";
import { agent } from "./agent.svelte";
import type { AgentEvent } from "./backend";

describe("agent store", () => {
  afterEach(() => {
    agent.reset();
    vi.restoreAllMocks();
  });

  it("makes an event of an unknown kind visible in development, not silently ignored", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    agent.apply({ event: "teleport", call: "c1" } as unknown as AgentEvent);
    expect(error).toHaveBeenCalledOnce();
    expect(String(error.mock.calls[0]?.[0])).toContain('"teleport"');
    expect(agent.view.toasts.map((t) => [t.code, t.message])).toEqual([
      ["client", 'Unknown agent event "teleport" (the UI\'s bindings are older than the agent)'],
    ]);
  });
});
