import { mockBackend, type MockBackend } from "./mock";
import type { AgentEvent, ConnectionSettings } from "./index";

describe("mock contact center", () => {
  let mock: MockBackend;
  let events: AgentEvent[];
  beforeEach(async () => {
    vi.useFakeTimers();
    mock = mockBackend({ ringAfterMs: 3000 });
    events = [];
    await mock.subscribe((e) => events.push(e));
  });
  afterEach(() => {
    mock.dispose();
    vi.useRealTimers();
  });
  const kinds = () => events.map((e) => (e.event === "call" ? `call:${e.state.state}` : e.event === "transfer" ? `transfer:${e.phase}` : e.event));

  it("registers, and its snapshot starts with ready", async () => {
    vi.advanceTimersByTime(500);
    expect(events).toContainEqual({ event: "registration", registration: { state: "registered" } });
    const snap = await mock.snapshot();
    expect(snap.status === "ok" && snap.data[0]?.event).toBe("ready");
  });

  it("rings after the agent becomes available, then answer connects", async () => {
    await mock.command({ cmd: "state", state: "available" });
    vi.advanceTimersByTime(3000);
    const inc = events.find((e) => e.event === "incoming");
    expect(inc).toBeDefined();
    expect(kinds()).toContain("context");
    vi.advanceTimersByTime(1000);
    expect(events.filter((e) => e.event === "context").at(-1)).toMatchObject({ customer: { source: "crm", loading: false } });
    expect(await mock.command({ cmd: "answer" })).toEqual({ status: "ok", data: null });
    expect(events).toContainEqual({ event: "state", agent: { state: "on_call" } });
    expect(kinds()).toContain("call:connected");
  });

  it("runs a warm transfer: dialling, consulting, completed, ended, wrap-up", async () => {
    await mock.command({ cmd: "state", state: "available" });
    const call = mock.ring();
    await mock.command({ cmd: "answer", call });
    events.length = 0;
    await mock.command({ cmd: "transfer", to: "+442079460100", mode: "warm", call });
    expect(kinds()).toEqual(["call:held", "transfer:dialling_expert", "call:dialing"]);
    vi.advanceTimersByTime(2000);
    expect(kinds()).toContain("transfer:consulting");
    events.length = 0;
    await mock.command({ cmd: "complete_transfer" });
    expect(kinds()).toEqual(["transfer:completed", "call:ended", "call:ended", "state"]);
    expect(events.at(-1)).toEqual({ event: "state", agent: { state: "wrap_up", seconds_left: 60 } });
    // The history, already in wrap-up: the customer's call, transferred, and
    // the consult call that names it; the disposition once wrap-up is done.
    const history = async () => {
      events.length = 0;
      await mock.command({ cmd: "history", query: "" });
      vi.advanceTimersByTime(200);
      return events.find((e) => e.event === "history")?.calls ?? [];
    };
    let calls = await history();
    expect(calls.find((c) => c.call === call)).toMatchObject({
      queue: "Billing",
      case: "CS-40213",
      consult_for: null,
      transferred_to: "+442079460100",
      disposition: null,
    });
    expect(calls.filter((c) => c.consult_for === call)).toEqual([
      expect.objectContaining({ direction: "outbound", party: "+442079460100", duration_s: 0, queue: null, case: null }),
    ]);
    await mock.command({ cmd: "wrapup", disposition: "escalated" });
    calls = await history();
    expect(calls.find((c) => c.call === call)).toMatchObject({ disposition: "escalated", case: "CS-40213" });
    expect(calls.filter((c) => c.consult_for === call)).toHaveLength(1);
  });

  it("returns to the customer when the expert is busy", async () => {
    const call = mock.ring();
    await mock.command({ cmd: "answer", call });
    await mock.command({ cmd: "transfer", to: "+442079460101", mode: "warm", call });
    vi.advanceTimersByTime(2000);
    expect(events.at(-1)).toMatchObject({ event: "transfer", phase: "returned", reason: expect.stringContaining("Lukas") });
  });

  it("saves a note, then syncs it", async () => {
    const call = mock.ring();
    await mock.command({ cmd: "answer", call });
    await mock.command({ cmd: "note", text: "hello", call });
    expect(events).toContainEqual({ event: "note_saved", note: "note-1", call, sync: "saved_locally", reason: null });
    vi.advanceTimersByTime(1000);
    expect(events.filter((e) => e.event === "note_saved").map((e) => e.sync)).toEqual(["saved_locally", "syncing", "synced"]);
  });

  it("refuses what the real agent would refuse, with a code and words", async () => {
    expect(await mock.command({ cmd: "answer" })).toMatchObject({ status: "error", error: { code: "no_call" } });
    expect(await mock.command({ cmd: "dial", to: "drop table" })).toMatchObject({ status: "error", error: { code: "dial_refused" } });
    await mock.command({ cmd: "sign_out" });
    expect(await mock.command({ cmd: "experts", query: "" })).toMatchObject({ status: "error", error: { code: "not_available" } });
  });

  it("answers an empty expert query with the favourites, as the agent does", async () => {
    await mock.command({ cmd: "experts", query: "" });
    vi.advanceTimersByTime(300);
    const answer = events.filter((e) => e.event === "experts").at(-1);
    expect(answer?.event === "experts" && answer.experts.map((e) => [e.name, e.favourite])).toEqual([
      ["Amara Okafor", true],
      ["Sofía Herrera", true],
    ]);
  });

  it("offers the default configuration's dispositions", async () => {
    const snap = await mock.snapshot();
    const ready = snap.status === "ok" ? snap.data.find((e) => e.event === "ready") : undefined;
    expect(ready?.event === "ready" && ready.session.dispositions.map((d) => d.code)).toEqual([
      "resolved",
      "follow_up",
      "escalated",
      "callback",
      "wrong_number",
    ]);
  });

  it("wraps up with a disposition and becomes available again", async () => {
    const call = mock.ring();
    await mock.command({ cmd: "answer", call });
    await mock.command({ cmd: "hangup", call });
    expect(events.at(-1)).toMatchObject({ event: "state", agent: { state: "wrap_up" } });
    await mock.command({ cmd: "wrapup", disposition: "resolved" });
    expect(events.at(-1)).toEqual({ event: "state", agent: { state: "available" } });
  });

  it("sends mic levels while the meter is on", async () => {
    await mock.command({ cmd: "meter", on: true });
    vi.advanceTimersByTime(500);
    const n = events.filter((e) => e.event === "level").length;
    expect(n).toBe(5);
    await mock.command({ cmd: "meter", on: false });
    vi.advanceTimersByTime(500);
    expect(events.filter((e) => e.event === "level").length).toBe(n);
  });

  describe("connection settings", () => {
    const good: ConnectionSettings = {
      servers: ["wss://sbc1.contoso.example:443", "ws://127.0.0.1:8089/ws"],
      user: "sip:agent1001@contoso.example",
      auth_user: "agent1001",
      display_name: null,
      outbound_proxy: null,
      tenant: null,
      client_id: null,
    };

    it("answers `connection` with the lab's empty settings and saves valid ones", async () => {
      expect(await mock.command({ cmd: "connection" })).toEqual({ status: "ok", data: null });
      expect(events.at(-1)).toEqual({
        event: "connection",
        connection: { settings: { ...good, servers: [], user: "", auth_user: "" }, file: "~/.config/warmline/warmline.toml", locked: false, saved: false },
      });
      expect(await mock.command({ cmd: "configure", settings: good, password: "pw" })).toEqual({ status: "ok", data: null });
      expect(events.at(-1)).toMatchObject({ event: "connection", connection: { settings: good, saved: true, locked: false } });
    });

    it("refuses bad settings with a `config` error naming the field", async () => {
      const cases: [Partial<ConnectionSettings>, string][] = [
        [{ servers: [] }, "sip.servers"],
        [{ servers: ["http://sbc.example.com"] }, "sip.servers"],
        [{ servers: ["ws://sbc.example.com"] }, "sip.servers"],
        [{ user: "agent1001@contoso.example" }, "sip.user"],
        [{ user: "sip:agent1001" }, "sip.user"],
        [{ auth_user: " " }, "sip.auth_user"],
        [{ tenant: "contoso.onmicrosoft.com" }, "microsoft365"],
        [{ client_id: "11111111-2222-3333-4444-555555555555" }, "microsoft365"],
      ];
      for (const [change, field] of cases) {
        const out = await mock.command({ cmd: "configure", settings: { ...good, ...change }, password: null });
        expect(out.status === "error" && out.error.code, field).toBe("config");
        expect(out.status === "error" && out.error.message, field).toContain(field);
      }
      expect(events.some((e) => e.event === "connection")).toBe(false);
    });

    it("refuses to save when the administrator locked the connection, and records restarts", async () => {
      const locked = mockBackend({ sipLocked: true });
      const snap = await locked.snapshot();
      expect(snap.status === "ok" && snap.data[0]?.event === "ready" && snap.data[0].session.locked).toContain("sip");
      const out = await locked.command({ cmd: "configure", settings: good, password: null });
      expect(out.status === "error" && out.error).toMatchObject({ code: "config", message: expect.stringContaining("locked") });
      expect(locked.restarts).toBe(0);
      expect(await locked.restart()).toEqual({ status: "ok", data: null });
      expect(locked.restarts).toBe(1);
      locked.dispose();
    });
  });
});
