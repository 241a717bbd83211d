// An in-browser stand-in for the Rust side, for UI tests and plain-browser
// development: a small simulated contact center. It answers commands with the
// events the real agent would send, on timers (setTimeout/setInterval), so
// vitest's fake timers drive it and a browser shows a believable day.
import type {
  AccountState,
  AgentEvent_Deserialize as AgentEvent,
  AgentState,
  AppInfo,
  AudioDevices,
  CallState,
  ConnectionSettings_Deserialize as ConnectionSettings,
  ConnectionView_Deserialize as ConnectionView,
  CustomerContext_Deserialize as CustomerContext,
  ErrorCode,
  Expert_Deserialize as Expert,
  HistoryEntry_Deserialize as HistoryEntry,
  SessionInfo,
  SyncStatus,
} from "../bindings";
import type { AgentCommand, Backend, Outcome } from "./index";
import { customers, experts as sampleExperts, hostileCustomer, sampleHistory, type SampleCustomer } from "./mock-data";

export interface MockOptions {
  /** Make the keyring look unavailable. */
  keyringDown?: boolean;
  /** `hostile` sends markup in names, CRM fields and notes (rendering must stay text). */
  scenario?: "normal" | "hostile";
  /** Multiplies every delay (0.05 for quick browser checks). */
  speed?: number;
  /** Ring a call this long after the agent becomes available, ms (0: never by itself). */
  ringAfterMs?: number;
  /** The CRM is unreachable: context comes from the cache, notes stay `offline`. */
  crmOffline?: boolean;
  /** Send quality and presence updates on intervals (off in unit tests by default). */
  liveUpdates?: boolean;
  /**
   * The administrator locked the connection settings: a company's
   * configuration file with `locked = ["sip"]` instead of the built-in lab.
   */
  sipLocked?: boolean;
}

/** The mock, with handles for tests and the accessibility check. */
export interface MockBackend extends Backend {
  readonly kind: "mock";
  /** Rings a new inbound call now (the next sample customer). */
  ring(): string;
  /** Sends an event as if the agent had. */
  emit(event: AgentEvent): void;
  /** The customer hangs up a call. */
  remoteHangup(call: string): void;
  /** Stops every timer. */
  dispose(): void;
  /** How many times the app was asked to restart. */
  readonly restarts: number;
}

/** Reads mock options from a query string: `?mock=hostile,fast,offline`. */
export function optionsFromQuery(search: string): MockOptions {
  const flags = new URLSearchParams(search).get("mock")?.split(",") ?? [];
  return {
    scenario: flags.includes("hostile") ? "hostile" : "normal",
    speed: flags.includes("fast") ? 0.05 : 1,
    crmOffline: flags.includes("offline"),
    ringAfterMs: flags.includes("noring") ? 0 : 4000,
    liveUpdates: !flags.includes("still"),
  };
}

interface SimCall {
  id: string;
  state: CallState;
  customer: SampleCustomer | null;
  remote: string;
  /** The consult leg's customer call. */
  consultFor: string | null;
  answered: boolean;
  /** When it started ringing or dialling, and when it was answered (Unix ms), for the history. */
  startedMs: number;
  answeredMs: number | null;
}

const SESSION: SessionInfo = {
  protocol: 1,
  version: "0.0.0-mock",
  agent_name: "Dana Whitfield",
  sip_user: "sip:dana.whitfield@contoso.example",
  backend: "lab",
  away_reasons: ["Break", "Lunch", "Training", "Meeting"],
  dispositions: [
    // The default configuration's codes and labels (crates/agent/src/config.rs).
    { code: "resolved", label: "Resolved" },
    { code: "follow_up", label: "Follow-up needed" },
    { code: "escalated", label: "Escalated" },
    { code: "callback", label: "Callback scheduled" },
    { code: "wrong_number", label: "Wrong number" },
  ],
  wrap_up_seconds: 60,
  // The lab's connection is the agent's to set (saving moves to a real SBC).
  locked: ["media", "microsoft365", "crm", "dial_policy"],
};

/** Nothing configured yet: the built-in lab has no configuration file. */
const NO_CONNECTION: ConnectionSettings = {
  servers: [],
  user: "",
  auth_user: "",
  display_name: null,
  outbound_proxy: null,
  tenant: null,
  client_id: null,
};

/** What an administrator's file sets (with `sipLocked`). */
const COMPANY_CONNECTION: ConnectionSettings = {
  servers: ["wss://sbc1.contoso.example:443", "wss://sbc2.contoso.example:443"],
  user: "sip:dana.whitfield@contoso.example",
  auth_user: "dana.whitfield",
  display_name: "Dana Whitfield",
  outbound_proxy: null,
  tenant: "contoso.onmicrosoft.com",
  client_id: "11111111-2222-3333-4444-555555555555",
};

const blank = (v: string | null | undefined): string | null => (v?.trim() ? v.trim() : null);

/**
 * Roughly what the agent's configuration check says about connection
 * settings: the message names the field, as the real one does.
 */
export function connectionProblem(s: ConnectionSettings): string | null {
  const servers = s.servers.map((x) => x.trim()).filter((x) => x !== "");
  if (servers.length === 0) return "sip.servers: list at least one SBC WebSocket URL (wss://...)";
  for (const url of servers) {
    if (/^ws:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/i.test(url)) continue;
    if (/^ws:\/\//i.test(url))
      return `sip.servers: ${url}: plain ws:// is only allowed on loopback; use wss:// so signalling is encrypted`;
    if (!/^wss:\/\/[^\s/:]+(:\d+)?(\/\S*)?$/i.test(url))
      return `sip.servers: ${url}: not a WebSocket URL; write wss://sbc.example.com`;
  }
  if (!/^sips?:[^@\s]+@[^@\s]+$/.test(s.user.trim()))
    return "sip.user: must be a SIP address of record like sip:agent1001@pbx.example.com";
  if (s.auth_user.trim() === "") return "sip.auth_user: must not be empty (leave it out to use the user part)";
  const proxy = blank(s.outbound_proxy);
  if (proxy && !/^sips?:\S+$/.test(proxy)) return "sip.outbound_proxy: must be a SIP URI, e.g. sip:sbc.example.com;lr";
  const tenant = blank(s.tenant);
  const client = blank(s.client_id);
  if ((tenant === null) !== (client === null)) return "microsoft365: needs both the tenant and the client id";
  if (client && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(client))
    return "microsoft365.client_id: must be the app registration's client id, a GUID";
  return null;
}

const DEVICES: AudioDevices = {
  inputs: [
    { id: "default", name: "System default" },
    { id: "jabra-in", name: "Jabra Evolve2 65 Microphone" },
    { id: "laptop-mic", name: "Built-in microphone" },
  ],
  outputs: [
    { id: "default", name: "System default" },
    { id: "jabra-out", name: "Jabra Evolve2 65 Headset" },
    { id: "speakers", name: "Built-in speakers" },
  ],
  input: "jabra-in",
  output: "jabra-out",
  ringer: "speakers",
};

function fail(code: ErrorCode, message: string): Outcome<null> {
  return { status: "error", error: { code, message } };
}
const OK: Outcome<null> = { status: "ok", data: null };

export function mockBackend(options: MockOptions = {}): MockBackend {
  const speed = options.speed ?? 1;
  const ringAfter = options.ringAfterMs ?? 0;
  const hostile = options.scenario === "hostile";
  const listeners = new Set<(e: AgentEvent) => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const intervals = new Set<ReturnType<typeof setInterval>>();

  let registration: AgentEvent = { event: "registration", registration: { state: "registering" } };
  let agent: AgentState = { state: "offline" };
  let account: AccountState = { state: "signed_in", name: "Dana Whitfield", upn: "dana.whitfield@contoso.example" };
  let sync: SyncStatus = { pending: 0, conflicts: 0, offline: !!options.crmOffline, local_only: false };
  let devices: AudioDevices = structuredClone(DEVICES);
  const session: SessionInfo = options.sipLocked
    ? { ...SESSION, backend: "configured", locked: ["sip", ...SESSION.locked] }
    : SESSION;
  let connection: ConnectionView = options.sipLocked
    ? { settings: structuredClone(COMPANY_CONNECTION), file: "/etc/warmline/warmline.toml", locked: true, saved: false }
    : { settings: structuredClone(NO_CONNECTION), file: "~/.config/warmline/warmline.toml", locked: false, saved: false };
  let restarts = 0;
  const calls = new Map<string, SimCall>();
  const contexts = new Map<string, CustomerContext>();
  const notes = new Map<string, { call: string | null; text: string }>();
  const expertList: Expert[] = structuredClone(sampleExperts);
  if (hostile) {
    expertList.push({
      id: "e-x",
      name: "<img src=x onerror=alert('expert')>",
      title: "<script>alert('title')</script>",
      department: "<b>Ops</b>",
      skills: ["<svg onload=alert(1)>"],
      favourite: false,
      availability: "PresenceUnknown",
      activity: "<i>odd</i>",
      presence_age_s: 0,
      dial: "+442079460199",
    });
  }
  const history: HistoryEntry[] = structuredClone(sampleHistory);
  let lastExpertQuery = "";
  /** The last search's people: a favourite change lists them again, as the agent does. */
  let lastExpertIds: string[] = [];
  let callSeq = 0;
  let noteSeq = 0;
  let customerSeq = 0;
  let transfer: { customer: string; consult: string; to: string; conference: boolean } | null = null;
  /** Where completed transfers went, by the customer's call: the target as dialled, as the agent records it. */
  const transferredTo = new Map<string, string>();
  let meter: ReturnType<typeof setInterval> | null = null;
  let quality: ReturnType<typeof setInterval> | null = null;
  let ringTimer: ReturnType<typeof setTimeout> | null = null;
  let wrapTimer: ReturnType<typeof setTimeout> | null = null;
  let wrapCall: string | null = null;
  /** The wrapped-up call's history row: listed from the call's end, its disposition and notes filled in at wrap-up's end. */
  let wrapEntry: HistoryEntry | null = null;

  function emit(e: AgentEvent): void {
    for (const l of [...listeners]) l(e);
  }
  /** Runs `run` after `ms` (scaled by `speed`, unless it is a human-scale wait such as wrap-up). */
  function later(ms: number, run: () => void, scaled = true): ReturnType<typeof setTimeout> {
    const id = setTimeout(
      () => {
        timers.delete(id);
        run();
      },
      scaled ? ms * speed : ms,
    );
    timers.add(id);
    return id;
  }
  function cancel(id: ReturnType<typeof setTimeout> | null): void {
    if (id !== null) {
      clearTimeout(id);
      timers.delete(id);
    }
  }
  function every(ms: number, run: () => void): ReturnType<typeof setInterval> {
    const id = setInterval(run, ms * speed);
    intervals.add(id);
    return id;
  }
  function stop(id: ReturnType<typeof setInterval> | null): void {
    if (id !== null) {
      clearInterval(id);
      intervals.delete(id);
    }
  }

  function setAgent(next: AgentState): void {
    agent = next;
    emit({ event: "state", agent });
  }
  /** A call event as the agent sends it: who started the call, the other party, the customer a consult is for. */
  function callEvent(c: SimCall): AgentEvent {
    return {
      event: "call",
      call: c.id,
      state: c.state,
      direction: c.customer ? "inbound" : "outbound",
      remote: { number: c.remote, name: c.customer?.displayName ?? null },
      consult_for: c.consultFor,
    };
  }
  function setCall(c: SimCall, state: CallState): void {
    c.state = state;
    emit(callEvent(c));
    if (state.state === "ended") {
      calls.delete(c.id);
      if (c.consultFor) recordConsult(c);
    }
    updateQualityTimer();
  }
  function secondsSince(ms: number | null): number {
    return ms === null ? 0 : Math.max(0, Math.round((Date.now() - ms) / 1000));
  }
  /**
   * A warm transfer's consult call into the history when it ends, naming the
   * customer call it was made for, as the agent records it (the agent adds
   * the row when it dials; newest first either way).
   */
  function recordConsult(c: SimCall): void {
    history.unshift({
      call: c.id,
      direction: "outbound",
      party: c.remote,
      name: null,
      queue: null,
      case: null,
      consult_for: c.consultFor,
      started_ms: c.startedMs,
      answered: c.answeredMs !== null,
      duration_s: secondsSince(c.answeredMs),
      disposition: null,
      transferred_to: null,
      notes: "",
    });
  }
  function live(): SimCall[] {
    return [...calls.values()];
  }
  function find(id: string | null | undefined, pick: (c: SimCall) => boolean, what: string): SimCall | string {
    if (id) return calls.get(id) ?? `There is no call ${id}.`;
    const matches = live().filter(pick);
    if (matches.length === 1) return matches[0] as SimCall;
    return matches.length === 0 ? `There is no ${what} call.` : `Several calls are ${what}; say which one.`;
  }

  function updateQualityTimer(): void {
    const talking = live().some((c) => c.state.state === "connected");
    if (talking && !quality && options.liveUpdates) {
      let tick = 0;
      quality = every(1000, () => {
        tick++;
        for (const c of live()) {
          if (c.state.state !== "connected") continue;
          const wobble = Math.sin(tick / 3 + c.id.length);
          const degraded = hostile && tick % 20 > 14;
          emit({
            event: "quality",
            call: c.id,
            mos: Math.round((degraded ? 2.9 : 4.2 + 0.15 * wobble) * 100) / 100,
            jitter_ms: Math.round((degraded ? 48 : 8 + 4 * wobble) * 10) / 10,
            loss_pct: Math.round((degraded ? 4.5 : Math.max(0, 0.2 * wobble)) * 100) / 100,
          });
        }
      });
    } else if (!talking && quality) {
      stop(quality);
      quality = null;
    }
  }

  function scheduleRing(): void {
    cancel(ringTimer);
    ringTimer = null;
    if (ringAfter > 0 && agent.state === "available") {
      ringTimer = later(ringAfter, () => {
        ringTimer = null;
        if (agent.state === "available" && calls.size === 0) ring();
      });
    }
  }

  function contextFor(customer: SampleCustomer, loading: boolean): CustomerContext {
    if (customer.unknown) {
      return {
        phone: customer.phone,
        name: null,
        crm_id: null,
        loading: false,
        source: "unknown",
        fields: [],
        interactions: [],
        notes: [],
        queue: customer.queue,
        case: customer.case,
      };
    }
    const ctx = structuredClone(customer.context);
    return loading
      ? { ...ctx, loading: true, source: "cache", fields: ctx.fields.slice(0, 2), interactions: [], notes: [] }
      : ctx;
  }

  function ring(): string {
    const pool = hostile ? [hostileCustomer, ...customers] : customers;
    const customer = pool[customerSeq++ % pool.length] as SampleCustomer;
    const id = `call-${++callSeq}`;
    const c: SimCall = { id, state: { state: "ringing" }, customer, remote: customer.phone, consultFor: null, answered: false, startedMs: Date.now(), answeredMs: null };
    calls.set(id, c);
    emit({
      event: "incoming",
      call: id,
      from: customer.phone,
      display_name: customer.displayName,
      queue: customer.queue,
      case: customer.case,
    });
    emit(callEvent(c));
    const first = contextFor(customer, !customer.unknown);
    contexts.set(id, first);
    emit({ event: "context", call: id, customer: first });
    if (!customer.unknown && !options.crmOffline) {
      later(900, () => {
        if (!calls.has(id)) return;
        const full = contextFor(customer, false);
        contexts.set(id, full);
        emit({ event: "context", call: id, customer: full });
      });
    } else if (!customer.unknown) {
      later(900, () => {
        if (!calls.has(id)) return;
        const cached = { ...first, loading: false };
        contexts.set(id, cached);
        emit({ event: "context", call: id, customer: cached });
      });
    }
    // Unanswered calls go back to the queue.
    later(30000, () => {
      if (calls.get(id)?.state.state === "ringing") {
        setCall(c, { state: "ended", reason: "Not answered: the call went back to the queue" });
        if (agent.state === "available") scheduleRing();
      }
    }, false);
    return id;
  }

  function startWrapUp(call: SimCall): void {
    if (live().some((c) => !c.consultFor)) return;
    wrapCall = call.id;
    const c = contexts.get(call.id);
    // Newer than its consult calls' rows, which were listed as they ended.
    wrapEntry = {
      call: call.id,
      direction: "inbound",
      party: c?.phone ?? "",
      name: c?.name ?? null,
      queue: c?.queue ?? null,
      case: c?.case ?? null,
      consult_for: null,
      started_ms: call.startedMs,
      answered: call.answeredMs !== null,
      duration_s: secondsSince(call.answeredMs),
      disposition: null,
      transferred_to: transferredTo.get(call.id) ?? null,
      notes: "",
    };
    history.unshift(wrapEntry);
    const secs = session.wrap_up_seconds;
    setAgent({ state: "wrap_up", seconds_left: secs });
    cancel(wrapTimer);
    wrapTimer = later(secs * 1000, () => finishWrapUp(null), false);
  }

  function finishWrapUp(disposition: string | null): void {
    cancel(wrapTimer);
    wrapTimer = null;
    if (wrapEntry) {
      const call = wrapEntry.call;
      wrapEntry.disposition = disposition ?? wrapEntry.disposition;
      wrapEntry.notes = [...notes.values()].filter((n) => n.call === call).map((n) => n.text).join("\n");
    }
    wrapCall = null;
    wrapEntry = null;
    setAgent({ state: "available" });
    scheduleRing();
  }

  function endCall(c: SimCall, reason: string): void {
    if (transfer && (transfer.customer === c.id || transfer.consult === c.id)) {
      const consult = calls.get(transfer.consult);
      const customer = calls.get(transfer.customer);
      transfer = null;
      if (consult && consult !== c) setCall(consult, { state: "ended", reason: "The consult ended with the customer's call" });
      if (customer && customer !== c) {
        emit({ event: "transfer", call: customer.id, phase: "returned", reason: "The expert hung up" });
        setCall(customer, { state: "held" });
      }
    }
    setCall(c, { state: "ended", reason });
    if (c.consultFor) return;
    if (c.answered) startWrapUp(c);
    else if (calls.size === 0 && agent.state === "on_call") setAgent({ state: "available" });
  }

  function saveNote(text: string, noteId: string | null | undefined, callId: string | null | undefined): Outcome<null> {
    const call = callId ?? wrapCall ?? live().find((c) => !c.consultFor)?.id ?? null;
    const id = noteId ?? `note-${++noteSeq}`;
    if (noteId && !notes.has(noteId)) return fail("invalid_command", `There is no note ${noteId}.`);
    notes.set(id, { call, text });
    emit({ event: "note_saved", note: id, call, sync: "saved_locally", reason: null });
    sync = { ...sync, pending: sync.pending + 1 };
    emit({ event: "sync", sync });
    later(300, () => {
      if (notes.get(id)?.text !== text) return;
      if (options.crmOffline) {
        emit({ event: "note_saved", note: id, call, sync: "offline", reason: "The CRM cannot be reached" });
        return;
      }
      emit({ event: "note_saved", note: id, call, sync: "syncing", reason: null });
      later(700, () => {
        if (notes.get(id)?.text !== text) return;
        sync = { ...sync, pending: Math.max(0, sync.pending - 1) };
        if (/conflict/i.test(text)) {
          sync = { ...sync, conflicts: sync.conflicts + 1 };
          emit({ event: "note_saved", note: id, call, sync: "conflict", reason: "Someone changed this note in the CRM; both versions are kept" });
        } else if (text.length > 4000) {
          emit({ event: "note_saved", note: id, call, sync: "failed", reason: "The CRM refused the note: longer than 4000 characters" });
        } else {
          emit({ event: "note_saved", note: id, call, sync: "synced", reason: null });
        }
        emit({ event: "sync", sync });
      });
    });
    return OK;
  }

  // As the agent does: an empty query lists the favourites.
  function searchExperts(query: string): void {
    lastExpertQuery = query;
    const q = query.trim().toLowerCase();
    const list = expertList
      .filter((e) =>
        !q
          ? e.favourite
          : e.name.toLowerCase().includes(q) ||
            (e.department ?? "").toLowerCase().includes(q) ||
            (e.title ?? "").toLowerCase().includes(q) ||
            e.skills.some((s) => s.toLowerCase().includes(q)),
      )
      .sort((a, b) => Number(b.favourite) - Number(a.favourite) || a.name.localeCompare(b.name));
    lastExpertIds = list.map((e) => e.id);
    later(250, () => emit({ event: "experts", query, experts: structuredClone(list) }));
  }

  function listExpertsAgain(): void {
    const list = expertList
      .filter((e) => lastExpertIds.includes(e.id))
      .sort((a, b) => Number(b.favourite) - Number(a.favourite) || a.name.localeCompare(b.name));
    later(250, () => emit({ event: "experts", query: lastExpertQuery, experts: structuredClone(list) }));
  }

  function run(cmd: AgentCommand): Outcome<null> {
    switch (cmd.cmd) {
      case "state": {
        if (agent.state === "on_call") return fail("invalid_command", "Finish the call before changing state.");
        if (cmd.state === "away") {
          if (!cmd.reason) return fail("invalid_command", "Choose a reason for being away.");
          setAgent({ state: "away", reason: cmd.reason });
        } else if (cmd.state === "available") {
          if (agent.state === "wrap_up") finishWrapUp(null);
          else setAgent({ state: "available" });
        } else setAgent({ state: "offline" });
        scheduleRing();
        return OK;
      }
      case "answer": {
        const c = find(cmd.call, (x) => x.state.state === "ringing", "ringing");
        if (typeof c === "string") return fail("no_call", c);
        if (c.state.state !== "ringing") return fail("signalling", "That call is not ringing.");
        for (const other of live()) if (other !== c && other.state.state === "connected") setCall(other, { state: "held" });
        c.answered = true;
        c.answeredMs = Date.now();
        setCall(c, { state: "connected" });
        if (agent.state !== "on_call") setAgent({ state: "on_call" });
        return OK;
      }
      case "reject": {
        const c = find(cmd.call, (x) => x.state.state === "ringing", "ringing");
        if (typeof c === "string") return fail("no_call", c);
        setCall(c, { state: "ended", reason: "Rejected by the agent" });
        if (agent.state === "available") scheduleRing();
        return OK;
      }
      case "dial": {
        const to = cmd.to.trim();
        if (!/^(\+?[0-9*#]{2,16}|sips?:[^\s]+)$/.test(to)) return fail("dial_refused", `The dial policy does not allow calling “${cmd.to}”.`);
        if (/^\+?1?900/.test(to)) return fail("dial_refused", "Premium-rate numbers are blocked by the dial policy.");
        for (const other of live()) if (other.state.state === "connected") setCall(other, { state: "held" });
        const id = `call-${++callSeq}`;
        const c: SimCall = { id, state: { state: "dialing" }, customer: null, remote: to, consultFor: null, answered: false, startedMs: Date.now(), answeredMs: null };
        calls.set(id, c);
        cancel(ringTimer);
        setCall(c, { state: "dialing" });
        setAgent({ state: "on_call" });
        later(600, () => calls.has(id) && setCall(c, { state: "ringing" }));
        later(2500, () => {
          if (!calls.has(id)) return;
          c.answered = true;
          c.answeredMs = Date.now();
          setCall(c, { state: "connected" });
        });
        return OK;
      }
      case "hold":
      case "resume": {
        const want = cmd.cmd === "hold" ? "connected" : "held";
        const c = find(cmd.call, (x) => x.state.state === want, want);
        if (typeof c === "string") return fail("no_call", c);
        if (c.state.state !== want) return fail("signalling", cmd.cmd === "hold" ? "That call is not connected." : "That call is not on hold.");
        if (cmd.cmd === "resume") for (const other of live()) if (other !== c && other.state.state === "connected") setCall(other, { state: "held" });
        setCall(c, { state: cmd.cmd === "hold" ? "held" : "connected" });
        return OK;
      }
      case "mute":
        if (!live().some((c) => c.state.state === "connected" || c.state.state === "held")) return fail("no_call", "There is no call to mute.");
        return OK;
      case "dtmf": {
        if (!/^[0-9*#A-D]+$/.test(cmd.digits)) return fail("invalid_command", "DTMF digits are 0-9, *, # and A-D.");
        const c = find(cmd.call, (x) => x.state.state === "connected", "connected");
        if (typeof c === "string") return fail("no_call", c);
        return OK;
      }
      case "hangup": {
        const c = find(cmd.call, (x) => x.state.state === "connected", "connected");
        if (typeof c === "string") return fail("no_call", c);
        endCall(c, c.consultFor ? "The consult ended" : "Hung up by the agent");
        if (c.consultFor && calls.has(c.consultFor)) {
          emit({ event: "transfer", call: c.consultFor, phase: "returned", reason: "Consult ended by the agent" });
          transfer = null;
        }
        return OK;
      }
      case "transfer": {
        const c = find(cmd.call, (x) => !x.consultFor && (x.state.state === "connected" || x.state.state === "held"), "connected");
        if (typeof c === "string") return fail("no_call", c);
        if (transfer) return fail("invalid_command", "A transfer is already under way.");
        const expert = expertList.find((e) => e.dial === cmd.to);
        if (cmd.mode === "blind") {
          emit({ event: "transfer", call: c.id, phase: "dialling_expert", reason: null });
          later(800, () => {
            if (!calls.has(c.id)) return;
            if (expert && (expert.availability === "Offline" || expert.availability === "DoNotDisturb")) {
              emit({ event: "transfer", call: c.id, phase: "failed", reason: `${expert.name} cannot take calls right now (${expert.availability})` });
              return;
            }
            emit({ event: "transfer", call: c.id, phase: "completed", reason: null });
            transferredTo.set(c.id, cmd.to);
            endCall(c, `Transferred to ${expert?.name ?? cmd.to}`);
          });
          return OK;
        }
        if (c.state.state === "connected") setCall(c, { state: "held" });
        const id = `call-${++callSeq}`;
        const leg: SimCall = { id, state: { state: "dialing" }, customer: null, remote: cmd.to, consultFor: c.id, answered: false, startedMs: Date.now(), answeredMs: null };
        calls.set(id, leg);
        transfer = { customer: c.id, consult: id, to: cmd.to, conference: cmd.mode === "conference" };
        emit({ event: "transfer", call: c.id, phase: "dialling_expert", reason: null });
        setCall(leg, { state: "dialing" });
        later(500, () => calls.has(id) && setCall(leg, { state: "ringing" }));
        later(2000, () => {
          if (!calls.has(id) || transfer?.consult !== id) return;
          const busy = expert && expert.availability !== "Available" && expert.availability !== "AvailableIdle";
          if (busy) {
            setCall(leg, { state: "ended", reason: "Declined" });
            transfer = null;
            emit({ event: "transfer", call: c.id, phase: "returned", reason: `${expert.name} did not answer (${expert.activity})` });
            return;
          }
          leg.answered = true;
          leg.answeredMs = Date.now();
          setCall(leg, { state: "connected" });
          if (transfer.conference) {
            // As the agent does: all three are joined as soon as the expert answers.
            setCall(c, { state: "connected" });
            emit({ event: "transfer", call: c.id, phase: "conference", reason: null });
          } else emit({ event: "transfer", call: c.id, phase: "consulting", reason: null });
        });
        return OK;
      }
      case "complete_transfer":
      case "cancel_transfer":
      case "conference": {
        if (!transfer) return fail("invalid_command", "There is no transfer under way.");
        const customer = calls.get(transfer.customer);
        const leg = calls.get(transfer.consult);
        if (!customer || !leg) return fail("no_call", "The transfer's calls are gone.");
        if (cmd.cmd !== "cancel_transfer" && leg.state.state !== "connected") return fail("signalling", "The expert has not answered yet.");
        const t = transfer;
        if (cmd.cmd === "conference") {
          if (t.conference) return fail("invalid_command", "The calls are already joined.");
          t.conference = true;
          setCall(customer, { state: "connected" });
          emit({ event: "transfer", call: customer.id, phase: "conference", reason: null });
          return OK;
        }
        transfer = null;
        if (cmd.cmd === "complete_transfer") {
          emit({ event: "transfer", call: customer.id, phase: "completed", reason: null });
          transferredTo.set(customer.id, t.to);
          setCall(leg, { state: "ended", reason: "Transferred" });
          const name = expertList.find((e) => e.dial === t.to)?.name ?? t.to;
          endCall(customer, `Transferred to ${name}`);
        } else {
          setCall(leg, { state: "ended", reason: "Consult cancelled" });
          emit({ event: "transfer", call: customer.id, phase: "returned", reason: "Cancelled by the agent" });
          setCall(customer, { state: "connected" });
        }
        return OK;
      }
      case "note":
        return saveNote(cmd.text, cmd.note, cmd.call);
      case "wrapup": {
        if (agent.state !== "wrap_up") return fail("invalid_command", "There is no call to wrap up.");
        if (!session.dispositions.some((d) => d.code === cmd.disposition)) return fail("invalid_command", `Unknown disposition ${cmd.disposition}.`);
        finishWrapUp(cmd.disposition);
        return OK;
      }
      case "disposition": {
        if (!wrapEntry) return fail("no_call", "There is no call to record a disposition for.");
        if (!session.dispositions.some((d) => d.code === cmd.disposition)) return fail("invalid_command", `Unknown disposition ${cmd.disposition}.`);
        // Recorded now: it stays when wrap-up's time runs out.
        wrapEntry.disposition = cmd.disposition;
        return OK;
      }
      case "experts":
        if (account.state !== "signed_in" && account.state !== "throttled")
          return fail("not_available", "Sign in to Microsoft 365 to search experts.");
        searchExperts(cmd.query);
        return OK;
      case "favourite": {
        const e = expertList.find((x) => x.id === cmd.expert);
        if (!e) return fail("invalid_command", "Unknown expert.");
        e.favourite = cmd.on;
        emit({ event: "presence", expert: structuredClone(e) });
        listExpertsAgain();
        return OK;
      }
      case "history": {
        const q = (cmd.query ?? "").trim().toLowerCase();
        const found = history.filter(
          (h) => !q || h.party.includes(q) || (h.name ?? "").toLowerCase().includes(q) || h.notes.toLowerCase().includes(q),
        );
        later(200, () => emit({ event: "history", query: cmd.query ?? "", calls: structuredClone(found) }));
        return OK;
      }
      case "sign_in":
        account = { state: "signing_in" };
        emit({ event: "account", account });
        later(1500, () => {
          account = { state: "signed_in", name: "Dana Whitfield", upn: "dana.whitfield@contoso.example" };
          emit({ event: "account", account });
        });
        return OK;
      case "sign_out":
        account = { state: "signed_out" };
        emit({ event: "account", account });
        return OK;
      case "devices":
        emit({ event: "devices", devices: structuredClone(devices) });
        return OK;
      case "device": {
        const pool = cmd.role === "input" ? devices.inputs : devices.outputs;
        if (!pool.some((d) => d.id === cmd.id)) return fail("media", `No such audio device: ${cmd.id}.`);
        devices = { ...devices, [cmd.role]: cmd.id };
        emit({ event: "devices", devices: structuredClone(devices) });
        return OK;
      }
      case "connection":
        connection = { ...connection, saved: false };
        emit({ event: "connection", connection: structuredClone(connection) });
        return OK;
      case "configure": {
        if (connection.locked) return fail("config", "the administrator locked the connection settings");
        const problem = connectionProblem(cmd.settings);
        if (problem) return fail("config", `${connection.file}: ${problem}`);
        const s = cmd.settings;
        const settings: ConnectionSettings = {
          servers: s.servers.map((x) => x.trim()).filter((x) => x !== ""),
          user: s.user.trim(),
          auth_user: s.auth_user.trim(),
          display_name: blank(s.display_name),
          outbound_proxy: blank(s.outbound_proxy),
          // Empty leaves the tenant as it was.
          tenant: blank(s.tenant) ?? connection.settings.tenant ?? null,
          client_id: blank(s.client_id) ?? connection.settings.client_id ?? null,
        };
        connection = { ...connection, settings, saved: true };
        emit({ event: "connection", connection: structuredClone(connection) });
        return OK;
      }
      case "test_tone":
        return OK;
      case "meter": {
        stop(meter);
        meter = null;
        if (cmd.on) {
          let tick = 0;
          meter = every(100, () => {
            tick++;
            emit({ event: "level", input: Math.round(Math.abs(Math.sin(tick / 4)) * 70) / 100 });
          });
        }
        return OK;
      }
      case "quit":
        return OK;
    }
  }

  // Start-up: registration completes shortly after the session starts.
  later(400, () => {
    registration = { event: "registration", registration: { state: "registered" } };
    emit(registration);
  });
  if (options.liveUpdates) {
    let tick = 0;
    // Real time, not scaled: a person watches presence change over minutes.
    const presenceTimer = setInterval(() => {
      // Experts' Teams presence changes during the day.
      const e = expertList[tick++ % expertList.length] as Expert;
      const cycle = ["Available", "Busy", "Away", "Available", "BeRightBack"] as const;
      e.availability = cycle[tick % cycle.length] as Expert["availability"];
      e.activity = e.availability === "Busy" ? "InACall" : e.availability;
      e.presence_age_s = 0;
      emit({ event: "presence", expert: structuredClone(e) });
    }, 15000);
    intervals.add(presenceTimer);
  }

  return {
    kind: "mock",
    async appInfo(): Promise<Outcome<AppInfo>> {
      return {
        status: "ok",
        data: {
          version: "0.0.0-mock",
          keyring: options.keyringDown
            ? { backend: "Secret Service (D-Bus)", usable: false, detail: "the OS keyring is not available (mock)" }
            : { backend: "mock keyring", usable: true, detail: "mock keyring is unlocked and usable" },
        },
      };
    },
    async command(cmd) {
      return run(cmd);
    },
    async restart() {
      restarts++;
      return OK;
    },
    get restarts() {
      return restarts;
    },
    async snapshot() {
      const events: AgentEvent[] = [
        { event: "ready", session: structuredClone(session) },
        registration,
        { event: "state", agent },
        { event: "account", account },
        { event: "sync", sync },
        { event: "devices", devices: structuredClone(devices) },
      ];
      for (const c of calls.values()) {
        const ctx = contexts.get(c.id);
        if (c.customer && !c.consultFor)
          events.push({ event: "incoming", call: c.id, from: c.remote, display_name: c.customer.displayName, queue: c.customer.queue, case: c.customer.case });
        events.push(callEvent(c));
        if (ctx) events.push({ event: "context", call: c.id, customer: ctx });
      }
      return { status: "ok", data: events };
    },
    async subscribe(handler) {
      listeners.add(handler);
      return () => listeners.delete(handler);
    },
    ring,
    emit,
    remoteHangup(id) {
      const c = calls.get(id);
      if (c) endCall(c, "The customer hung up");
    },
    dispose() {
      for (const id of timers) clearTimeout(id);
      for (const id of intervals) clearInterval(id);
      timers.clear();
      intervals.clear();
      listeners.clear();
    },
  };
}
