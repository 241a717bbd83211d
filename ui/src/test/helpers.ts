// Shared setup for component tests: a mock contact center on fake timers,
// wired into the store, with every command recorded.
import { tick } from "svelte";
import { agent } from "../lib/agent.svelte";
import { useBackend, type AgentCommand } from "../lib/backend";
import { mockBackend, type MockBackend, type MockOptions } from "../lib/backend/mock";
import { setLanguage } from "../lib/i18n/index.svelte";

export interface Harness {
  mock: MockBackend;
  sent: AgentCommand[];
}

export async function connectMock(options: MockOptions = {}): Promise<Harness> {
  vi.useFakeTimers();
  setLanguage("en");
  agent.reset();
  const mock = mockBackend(options);
  const sent: AgentCommand[] = [];
  const command = mock.command.bind(mock);
  mock.command = (cmd) => {
    sent.push(cmd);
    return command(cmd);
  };
  useBackend(mock);
  await agent.connect(mock);
  return { mock, sent };
}

export function teardown(h: Harness | undefined): void {
  h?.mock.dispose();
  agent.reset();
  vi.useRealTimers();
}

/** Lets timers, promises and Svelte's updates run. */
export async function advance(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await tick();
}
