import { render, screen } from "@testing-library/svelte";
import Header from "./Header.svelte";
import { agent } from "../lib/agent.svelte";
import type { AgentEvent } from "../lib/backend";
import { setLanguage } from "../lib/i18n/index.svelte";

function pill(i: number): string {
  return screen.getByTestId(`health-${i}`).textContent ?? "";
}

describe("Header health pills", () => {
  beforeEach(() => {
    setLanguage("en");
    agent.reset();
  });

  it("shows every registration state in words", async () => {
    render(Header, { onhistory: () => {}, onsettings: () => {} });
    const cases: [AgentEvent, string][] = [
      [{ event: "registration", registration: { state: "registering" } }, "Connecting"],
      [{ event: "registration", registration: { state: "registered" } }, "Connected"],
      [{ event: "registration", registration: { state: "reconnecting", attempt: 3 } }, "Reconnecting (attempt 3)"],
      [{ event: "registration", registration: { state: "failed", reason: "403 Forbidden" } }, "403 Forbidden"],
    ];
    for (const [event, text] of cases) {
      agent.apply(event);
      await Promise.resolve();
      expect(pill(0)).toContain(text);
    }
  });

  it("shows the Microsoft 365 account and note sync", async () => {
    render(Header, { onhistory: () => {}, onsettings: () => {} });
    const cases: [AgentEvent, number, string][] = [
      [{ event: "account", account: { state: "signed_out" } }, 1, "Signed out"],
      [{ event: "account", account: { state: "signing_in" } }, 1, "Signing in"],
      [{ event: "account", account: { state: "signed_in", name: "Dana", upn: "d@x" } }, 1, "Dana"],
      [{ event: "account", account: { state: "throttled", retry_after_s: 30 } }, 1, "retry in 30 s"],
      [{ event: "account", account: { state: "failed", reason: "consent needed" } }, 1, "consent needed"],
      [{ event: "sync", sync: { pending: 2, conflicts: 0, offline: false, local_only: false } }, 2, "Syncing 2"],
      [{ event: "sync", sync: { pending: 2, conflicts: 0, offline: true, local_only: false } }, 2, "CRM offline, 2 waiting"],
      [{ event: "sync", sync: { pending: 0, conflicts: 1, offline: false, local_only: false } }, 2, "1 in conflict"],
      [{ event: "sync", sync: { pending: 0, conflicts: 0, offline: false, local_only: true } }, 2, "this PC only"],
    ];
    for (const [event, i, text] of cases) {
      agent.apply(event);
      await Promise.resolve();
      expect(pill(i)).toContain(text);
    }
    expect(screen.getByRole("button", { name: "Sign in to Microsoft 365" })).toBeTruthy();
  });

  it("offers the away reasons from the session", async () => {
    agent.apply({
      event: "ready",
      session: {
        protocol: 1, version: "x", agent_name: "Dana", sip_user: "sip:d@x", backend: "lab",
        away_reasons: ["Lunch"], dispositions: [], wrap_up_seconds: 30, locked: [],
      },
    });
    render(Header, { onhistory: () => {}, onsettings: () => {} });
    const select = screen.getByLabelText("Agent state") as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(["Available", "Away: Lunch", "Offline"]);
    expect(screen.getByTestId("agent-name").textContent).toBe("Dana");
  });
});
