// The mock backend must not drift from the real agent. The transcripts in
// transcripts/ are what `warmline-cli agent --lab` printed for a scripted
// call (transcripts/record.py made them; see transcripts/README.md). This
// test (a) replays them through fold() and checks what the desktop would
// show, and (b) runs the same commands against the mock and checks that
// every kind of event both emit has the same keys and value types.
import { consultOf, focusCall, fold, initialView, liveCalls, type AgentEvent, type View } from "../lib/agent/fold";
import type { AgentCommand } from "../lib/backend";
import { mockBackend } from "../lib/backend/mock";

const files = import.meta.glob<string>("./transcripts/*.jsonl", { query: "?raw", import: "default", eager: true });

/**
 * The events in a transcript. The CLI also prints replies to its commands
 * (`ok`, and `error` with the command's `id`: the desktop gets those as a
 * command's outcome) and the lab's own events (`lab`); neither reaches the fold.
 */
function transcript(name: string): AgentEvent[] {
  const text = files[`./transcripts/${name}.jsonl`];
  if (text === undefined) throw new Error(`no transcript ${name}`);
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.event !== "ok" && o.event !== "lab" && !(o.event === "error" && "id" in o))
    .map((o) => o as unknown as AgentEvent);
}

/** Folds `events`, calling `at` after each so a test can look at the view along the way. */
function replay(events: AgentEvent[], at: (v: View, e: AgentEvent) => void = () => {}): View {
  let v = initialView(0);
  events.forEach((e, i) => {
    v = fold(v, e, 1000 * (i + 1));
    at(v, e);
  });
  return v;
}

const is = (e: AgentEvent, kind: string, detail?: string): boolean =>
  e.event === kind &&
  (detail === undefined ||
    (e.event === "call" && e.state.state === detail) ||
    (e.event === "state" && e.agent.state === detail) ||
    (e.event === "transfer" && e.phase === detail));

describe("real agent transcripts through the fold", () => {
  it("basic call: answered, held, resumed, noted, hung up, wrapped up, offline", () => {
    const seen: string[] = [];
    const v = replay(transcript("basic-call"), (v, e) => {
      if (is(e, "call", "held")) {
        expect(focusCall(v)).toMatchObject({ id: "c1", direction: "inbound", state: { state: "held" } });
        seen.push("held");
      }
      if (is(e, "state", "wrap_up")) {
        expect(v.wrapUpCall).toBe("c1");
        expect(v.calls.c1).toMatchObject({ direction: "inbound", remote: "+447700900026", name: "Isabella Rossi", consultFor: null });
        expect(v.calls.c1?.connectedAt).not.toBeNull();
        expect(v.notes.c1).toMatchObject({ note: "1", sync: "synced" });
        seen.push("wrap_up");
      }
    });
    expect(seen).toEqual(["held", "wrap_up"]);
    expect(v.agent).toEqual({ state: "offline" });
    expect(v.registration).toEqual({ state: "registered" });
    expect(liveCalls(v)).toEqual([]);
    expect(v.order).toEqual([]);
    expect(v.toasts).toEqual([]);
  });

  it("warm transfer: the consult leg is the expert's, for the customer's call, and wrap-up is about the customer", () => {
    const seen: string[] = [];
    const v = replay(transcript("warm-transfer"), (v, e) => {
      if (is(e, "transfer", "consulting")) {
        expect(consultOf(v, "c1")).toMatchObject({ id: "c2", direction: "outbound", remote: "+442079460103", consultFor: "c1" });
        expect(v.calls.c1).toMatchObject({ state: { state: "held" }, transfer: { phase: "consulting" } });
        expect(focusCall(v)?.id).toBe("c1");
        seen.push("consulting");
      }
      if (is(e, "state", "wrap_up")) {
        expect(v.wrapUpCall).toBe("c1");
        expect(v.calls.c1?.transfer?.phase).toBe("completed");
        seen.push("wrap_up");
      }
    });
    expect(seen).toEqual(["consulting", "wrap_up"]);
    expect(liveCalls(v)).toEqual([]);
    expect(v.toasts).toEqual([]);
  });

  it("conference transfer: all three joined when the expert answers, wrap-up about the customer", () => {
    const seen: string[] = [];
    replay(transcript("conference-transfer"), (v, e) => {
      if (is(e, "transfer", "conference")) {
        expect([v.calls.c1?.conference, v.calls.c2?.conference]).toEqual([true, true]);
        seen.push("conference");
      }
      if (is(e, "state", "wrap_up")) {
        // The expert's leg ends last (agents before 25dbccc sent it without consult_for then).
        expect(v.wrapUpCall).toBe("c1");
        seen.push("wrap_up");
      }
    });
    expect(seen).toEqual(["conference", "wrap_up"]);
  });
});

// ---------------------------------------------------------------- shapes

/** A value's shape: its type, and for objects their keys' shapes (null fits any type). */
type Shape = string | { [key: string]: Shape } | Shape[];
function shape(v: unknown): Shape {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, shape(x)]));
  return typeof v;
}
/** Where two shapes differ: key sets at every level, and types wherever neither side is null. */
function differences(real: Shape, mock: Shape, path: string): string[] {
  if (real === "null" || mock === "null") return [];
  if (Array.isArray(real) || Array.isArray(mock)) {
    if (!Array.isArray(real) || !Array.isArray(mock)) return [`${path}: ${JSON.stringify(real)} vs ${JSON.stringify(mock)}`];
    return real[0] !== undefined && mock[0] !== undefined ? differences(real[0], mock[0], `${path}[]`) : [];
  }
  if (typeof real === "string" || typeof mock === "string") return real === mock ? [] : [`${path}: real ${JSON.stringify(real)}, mock ${JSON.stringify(mock)}`];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(real), ...Object.keys(mock)])) {
    const r = real[k];
    const m = mock[k];
    if (r === undefined) out.push(`${path}.${k}: only the mock sends it`);
    else if (m === undefined) out.push(`${path}.${k}: the real agent sends it, the mock does not`);
    else out.push(...differences(r, m, `${path}.${k}`));
  }
  return out;
}
/** An event's kind with its variant, where the variant decides the keys. */
function variant(e: AgentEvent): string {
  switch (e.event) {
    case "call":
      return `call:${e.state.state}`;
    case "state":
      return `state:${e.agent.state}`;
    case "registration":
      return `registration:${e.registration.state}`;
    case "account":
      return `account:${e.account.state}`;
    case "transfer":
      return `transfer:${e.phase}`;
    case "note_saved":
      return `note_saved:${e.sync}`;
    default:
      return e.event;
  }
}

type Flow = "basic-call" | "warm-transfer" | "conference-transfer";

/** The commands record.py sent the real agent, sent to the mock (its available expert stands in for the lab's). */
async function mockEvents(flow: Flow): Promise<AgentEvent[]> {
  vi.useFakeTimers();
  const mock = mockBackend({ ringAfterMs: 1000, liveUpdates: true });
  const events: AgentEvent[] = [];
  try {
    await mock.subscribe((e) => events.push(e));
    const snap = await mock.snapshot();
    if (snap.status === "ok") events.push(...snap.data);
    const send = async (cmd: AgentCommand, wait = 0): Promise<void> => {
      expect(await mock.command(cmd), JSON.stringify(cmd)).toEqual({ status: "ok", data: null });
      await vi.advanceTimersByTimeAsync(wait);
    };
    await vi.advanceTimersByTimeAsync(500);
    await send({ cmd: "state", state: "available" }, 2000);
    const incoming = events.find((e) => e.event === "incoming");
    if (incoming?.event !== "incoming") throw new Error("the mock placed no call");
    const call = incoming.call;
    await send({ cmd: "answer", call }, 1500);
    if (flow === "basic-call") {
      await send({ cmd: "hold", call }, 1500);
      await send({ cmd: "resume", call }, 1500);
      await send({ cmd: "note", text: "Customer asked about the router", call }, 3000);
      await send({ cmd: "hangup", call }, 500);
    } else {
      await send({ cmd: "transfer", to: "+442079460100", mode: flow === "warm-transfer" ? "warm" : "conference", call }, 3000);
      await send({ cmd: "complete_transfer" }, 500);
    }
    await send({ cmd: "disposition", disposition: "resolved" }, 500);
    await send({ cmd: "wrapup", disposition: "resolved" }, 500);
    await send({ cmd: "state", state: "offline" }, 500);
    return events;
  } finally {
    mock.dispose();
    vi.useRealTimers();
  }
}

describe("the mock emits what the real agent emits", () => {
  for (const flow of ["basic-call", "warm-transfer", "conference-transfer"] as const) {
    it(`${flow}: the same keys and value types for every kind of event both send`, async () => {
      const real = new Map<string, Shape>();
      for (const e of transcript(flow)) if (!real.has(variant(e))) real.set(variant(e), shape(e));
      const mock = await mockEvents(flow);
      const problems: string[] = [];
      const mockKinds = new Set<string>();
      for (const e of mock) {
        const v = variant(e);
        mockKinds.add(v);
        const r = real.get(v);
        if (r) problems.push(...differences(r, shape(e), v));
      }
      expect([...new Set(problems)], "the mock has drifted from the real agent's events").toEqual([]);
      // The call's own story is told by both, event kind for event kind.
      const story = (kinds: Iterable<string>) => [...kinds].filter((k) => /^(call|transfer|incoming|state:(on_call|wrap_up))/.test(k)).sort();
      expect(story(mockKinds)).toEqual(story(real.keys()));
    });
  }
});
