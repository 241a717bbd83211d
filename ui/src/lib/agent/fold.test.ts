import type { CallState } from "../bindings";
import { afterCommand, beforeCommand, consultOf, focusCall, fold, initialView, isKnownEvent, liveCalls, ringingCalls, type AgentEvent, type View } from "./fold";

function replay(events: AgentEvent[], start: View = initialView(0)): View {
  return events.reduce((v, e, i) => fold(v, e, 1000 * (i + 1)), start);
}

/** A `call` event as the agent sends it; c1 is the customer's inbound call, others are outbound unless said. */
function callEv(call: string, state: CallState, more: Partial<Pick<CallEvent, "direction" | "remote" | "consult_for">> = {}): AgentEvent {
  return {
    event: "call",
    call,
    state,
    direction: call === "c1" ? "inbound" : "outbound",
    remote: call === "c1" ? { number: "+441", name: "Ann" } : { number: "+4420", name: null },
    consult_for: call === "c2" ? "c1" : null,
    ...more,
  };
}
type CallEvent = Extract<AgentEvent, { event: "call" }>;

const incoming: AgentEvent = { event: "incoming", call: "c1", from: "+441", display_name: "Ann", queue: "Billing", case: "CS-1" };

describe("fold", () => {
  it("tracks registration, agent state and account", () => {
    const v = replay([
      { event: "registration", registration: { state: "reconnecting", attempt: 2 } },
      { event: "state", agent: { state: "away", reason: "Lunch" } },
      { event: "account", account: { state: "throttled", retry_after_s: 30 } },
      { event: "sync", sync: { pending: 2, conflicts: 1, offline: true, local_only: false } },
    ]);
    expect(v.registration).toEqual({ state: "reconnecting", attempt: 2 });
    expect(v.agent).toEqual({ state: "away", reason: "Lunch" });
    expect(v.account?.state).toBe("throttled");
    expect(v.sync?.pending).toBe(2);
  });

  it("rings, connects with a timer start and ends into wrap-up", () => {
    let v = replay([incoming, callEv("c1", { state: "ringing" })]);
    expect(ringingCalls(v).map((c) => c.id)).toEqual(["c1"]);
    expect(v.calls.c1?.name).toBe("Ann");
    v = fold(v, callEv("c1", { state: "connected" }), 5000);
    expect(v.calls.c1?.connectedAt).toBe(5000);
    v = fold(v, callEv("c1", { state: "held" }), 6000);
    v = fold(v, callEv("c1", { state: "connected" }), 7000);
    expect(v.calls.c1?.connectedAt).toBe(5000);
    v = fold(v, callEv("c1", { state: "ended", reason: "bye" }), 8000);
    v = fold(v, { event: "state", agent: { state: "wrap_up", seconds_left: 30 } }, 8000);
    expect(liveCalls(v)).toEqual([]);
    expect(v.wrapUpCall).toBe("c1");
    expect(v.wrapUpEndsAt).toBe(38000);
    v = fold(v, { event: "state", agent: { state: "available" } }, 9000);
    expect(v.calls.c1).toBeUndefined();
  });

  it("keeps context, quality and the note id for a call", () => {
    const v = replay([
      incoming,
      {
        event: "context",
        call: "c1",
        customer: { phone: "+441", name: "Ann B", loading: true, source: "cache", fields: [], interactions: [], notes: [] },
      },
      { event: "quality", call: "c1", mos: 4.1, jitter_ms: 9, loss_pct: 0.1 },
      { event: "note_saved", note: "n1", call: "c1", sync: "saved_locally" },
      { event: "note_saved", note: "n1", call: "c1", sync: "failed", reason: "too long" },
    ]);
    expect(v.calls.c1?.context?.loading).toBe(true);
    expect(v.calls.c1?.name).toBe("Ann");
    expect(v.calls.c1?.quality?.mos).toBe(4.1);
    expect(v.notes.c1).toMatchObject({ note: "n1", sync: "failed", reason: "too long" });
  });

  it("names the consult leg after the transfer the agent asked for", () => {
    let v = replay([incoming, callEv("c1", { state: "connected" })]);
    v = beforeCommand(v, { cmd: "transfer", to: "+4420", mode: "warm", call: "c1" }, "Amara");
    v = fold(v, callEv("c1", { state: "held" }), 10);
    v = fold(v, { event: "transfer", call: "c1", phase: "dialling_expert" }, 11);
    v = fold(v, callEv("c2", { state: "dialing" }), 12);
    expect(v.calls.c2).toMatchObject({ consultFor: "c1", remote: "+4420", name: "Amara" });
    expect(v.calls.c1?.transfer).toMatchObject({ phase: "dialling_expert", target: "Amara", mode: "warm" });
    expect(consultOf(v, "c1")?.id).toBe("c2");
    expect(focusCall(v)?.id).toBe("c1");
    v = fold(v, { event: "transfer", call: "c1", phase: "returned", reason: "Declined" }, 13);
    expect(v.calls.c1?.transfer).toMatchObject({ phase: "returned", reason: "Declined" });
    expect(v.pendingTransfer).toBeNull();
  });

  it("takes direction, the remote party and consult_for from the call event, not from what was asked", () => {
    // No dial or transfer command came first (another window, the CLI, a snapshot after a restart).
    let v = fold(initialView(0), callEv("o1", { state: "dialing" }, { remote: { number: "+3491", name: "Reception" } }), 1);
    expect(v.calls.o1).toMatchObject({ direction: "outbound", remote: "+3491", name: "Reception", consultFor: null });
    v = replay([incoming, callEv("c1", { state: "held" }), callEv("x9", { state: "ringing" }, { consult_for: "c1" })]);
    expect(consultOf(v, "c1")?.id).toBe("x9");
    // An inbound call that is not ringing through `incoming` (a colleague calling, seen in a snapshot).
    v = fold(initialView(0), callEv("i7", { state: "connected" }, { direction: "inbound" }), 1);
    expect(v.calls.i7?.direction).toBe("inbound");
  });

  it("joins the customer and the expert from the transfer's conference phase until it moves on", () => {
    let v = replay([incoming, callEv("c1", { state: "connected" })]);
    v = beforeCommand(v, { cmd: "transfer", to: "+4420", mode: "conference", call: "c1" }, "Amara");
    v = fold(v, callEv("c1", { state: "held" }), 10);
    v = fold(v, { event: "transfer", call: "c1", phase: "dialling_expert" }, 11);
    v = fold(v, callEv("c2", { state: "connected" }), 12);
    expect(v.calls.c1?.conference).toBe(false);
    v = fold(v, callEv("c1", { state: "connected" }), 13);
    v = fold(v, { event: "transfer", call: "c1", phase: "conference" }, 13);
    expect([v.calls.c1?.conference, v.calls.c2?.conference]).toEqual([true, true]);
    expect(v.calls.c1?.transfer).toMatchObject({ phase: "conference", mode: "conference", target: "Amara" });
    // A refused REFER leaves everyone joined, as the agent does.
    v = fold(v, { event: "transfer", call: "c1", phase: "failed", reason: "403" }, 14);
    expect(v.calls.c2?.conference).toBe(true);
  });

  it("never wraps up a call that was a consult, even if its last event leaves consult_for out", () => {
    const v = replay([
      incoming,
      callEv("c1", { state: "connected" }),
      callEv("c2", { state: "connected" }),
      callEv("c1", { state: "ended", reason: "transferred" }),
      // As the agent sent it after a conference hand-over before 25dbccc.
      callEv("c2", { state: "ended", reason: "transferred" }, { consult_for: null }),
    ]);
    expect(v.wrapUpCall, "wrap-up is about the customer, not the expert's leg").toBe("c1");
  });

  it("knows every event kind, and says so of one it does not know", () => {
    expect(isKnownEvent({ event: "call" })).toBe(true);
    expect(isKnownEvent({ event: "teleport" })).toBe(false);
    expect(isKnownEvent({ event: "toString" })).toBe(false);
    const v = initialView(0);
    expect(fold(v, { event: "teleport" } as unknown as AgentEvent, 1)).toBe(v);
  });

  it("records mute only when it worked", () => {
    const v = initialView(0);
    expect(afterCommand(v, { cmd: "mute", on: true }, false).muted).toBe(false);
    expect(afterCommand(v, { cmd: "mute", on: true }, true).muted).toBe(true);
  });

  it("updates an expert's presence and collects errors as toasts", () => {
    const expert = {
      id: "e1", name: "Amara", skills: [], favourite: false, availability: "Available" as const,
      activity: "Available", presence_age_s: 0,
    };
    const v = replay([
      { event: "experts", query: "", experts: [expert] },
      { event: "presence", expert: { ...expert, availability: "Busy" } },
      { event: "error", code: "media", message: "Headset unplugged" },
    ]);
    expect(v.experts.list[0]?.availability).toBe("Busy");
    expect(v.toasts).toEqual([{ id: 1, code: "media", message: "Headset unplugged", at: 3000 }]);
  });

  it("ends a busy expert search with the reason when Microsoft 365 fails it", () => {
    let v = beforeCommand(initialView(0), { cmd: "experts", query: "billing" });
    expect(v.experts).toMatchObject({ query: "billing", searching: true, error: null });
    // An error about something else leaves the search alone.
    v = fold(v, { event: "error", code: "media", message: "Headset unplugged" }, 1000);
    expect(v.experts.searching).toBe(true);
    v = fold(v, { event: "error", code: "microsoft365", message: "Graph is unavailable" }, 2000);
    expect(v.experts).toMatchObject({ searching: false, error: "Graph is unavailable" });
    expect(v.toasts.map((t) => t.code)).toEqual(["media", "microsoft365"]);
    // The next search starts clean, and its answer clears the error.
    v = beforeCommand(v, { cmd: "experts", query: "bill" });
    expect(v.experts.error).toBeNull();
    v = fold(v, { event: "error", code: "microsoft365", message: "again" }, 3000);
    v = fold(v, { event: "experts", query: "bill", experts: [] }, 4000);
    expect(v.experts).toMatchObject({ searching: false, error: null });
    // Not searching: a Microsoft 365 error is only a toast.
    v = fold(v, { event: "error", code: "microsoft365", message: "presence" }, 5000);
    expect(v.experts.error).toBeNull();
  });

  it("keeps the connection settings, and forgets a save's status when they are read or saved again", () => {
    const settings = {
      servers: ["wss://sbc.contoso.example"],
      user: "sip:agent@contoso.example",
      auth_user: "agent",
      display_name: null,
      outbound_proxy: null,
      tenant: null,
      client_id: null,
    };
    let v = replay([{ event: "connection", connection: { settings, file: "/etc/w.toml", locked: false, saved: false } }]);
    expect(v.connection?.settings.servers).toEqual(["wss://sbc.contoso.example"]);
    v = fold(v, { event: "connection", connection: { settings, file: "/etc/w.toml", locked: false, saved: true } }, 2000);
    expect(v.connection?.saved).toBe(true);
    v = beforeCommand(v, { cmd: "connection" });
    expect(v.connection).toMatchObject({ saved: false, file: "/etc/w.toml" });
    expect(beforeCommand(v, { cmd: "configure", settings, password: null })).toBe(v);
  });
});
