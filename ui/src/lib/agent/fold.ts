// Folds the agent's event stream into the view the desktop shows. Pure: the
// time is passed in, nothing here reads the clock or talks to the backend, so
// tests replay a list of events and look at the result.
import type {
  AccountState,
  AgentCommand_Deserialize as AgentCommand,
  AgentEvent_Deserialize as AgentEvent,
  AgentState,
  AudioDevices,
  CallState,
  ConnectionView_Deserialize as ConnectionView,
  CustomerContext_Deserialize as CustomerContext,
  ErrorCode,
  Expert_Deserialize as Expert,
  HistoryEntry_Deserialize as HistoryEntry,
  NoteSync,
  RegistrationState,
  SessionInfo,
  SyncStatus,
  TransferMode,
  TransferPhase,
} from "../bindings";

export type { AgentCommand, AgentEvent, ConnectionView, CustomerContext, Expert, HistoryEntry };

export interface Quality {
  mos: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

export interface Transfer {
  phase: TransferPhase;
  reason: string | null;
  /** Who the agent is transferring to (from the command; `transfer` events do not say). */
  target: string | null;
  mode: TransferMode;
}

export interface Call {
  id: string;
  direction: "inbound" | "outbound";
  /** The other party's number or address. */
  remote: string;
  /** A name for people: display name, CRM name or expert name. */
  name: string | null;
  queue: string | null;
  case: string | null;
  state: CallState;
  /** When the call was first seen, ms. */
  since: number;
  /** When it was first connected (the talk timer's start), ms. */
  connectedAt: number | null;
  /** When the hold in progress (ours or theirs) began, ms; null when not on hold. */
  heldAt: number | null;
  endedAt: number | null;
  transfer: Transfer | null;
  quality: Quality | null;
  context: CustomerContext | null;
  /** For a consult leg: the customer's call it belongs to. */
  consultFor: string | null;
  /** Joined in a three-way call (from the transfer's `conference` phase). */
  conference: boolean;
}

export interface NoteState {
  /** The note's id, from the first `note_saved`. */
  note: string | null;
  sync: NoteSync | null;
  reason: string | null;
  /** The text as the agent last typed it (kept when moving between calls). */
  text: string;
}

export interface Toast {
  id: number;
  code: ErrorCode | "client";
  message: string;
  at: number;
}

export interface View {
  session: SessionInfo | null;
  registration: RegistrationState | null;
  agent: AgentState;
  agentSince: number;
  /** When wrap-up ends, ms (from `seconds_left`). */
  wrapUpEndsAt: number | null;
  /** The call being wrapped up. */
  wrapUpCall: string | null;
  calls: Record<string, Call>;
  /** Call ids, oldest first. */
  order: string[];
  /** Notes by call id. */
  notes: Record<string, NoteState>;
  /**
   * The last expert search. An empty query lists the favourites; `error` is
   * why the last search failed (a Microsoft 365 error while searching).
   */
  experts: { query: string; list: Expert[]; searching: boolean; error: string | null };
  account: AccountState | null;
  sync: SyncStatus | null;
  history: { query: string; calls: HistoryEntry[]; searching: boolean };
  devices: AudioDevices | null;
  /**
   * The connection settings (SBC, SIP account, tenant) from the last
   * `connection` event; `saved` says it answers a save made since the
   * settings were last read (the new settings apply at the next start).
   */
  connection: ConnectionView | null;
  level: number | null;
  muted: boolean;
  /** The transfer the agent just asked for, to name the consult leg. */
  pendingTransfer: { call: string; to: string; name: string | null; mode: TransferMode } | null;
  toasts: Toast[];
  nextToast: number;
}

export function initialView(now = 0): View {
  return {
    session: null,
    registration: null,
    agent: { state: "offline" },
    agentSince: now,
    wrapUpEndsAt: null,
    wrapUpCall: null,
    calls: {},
    order: [],
    notes: {},
    experts: { query: "", list: [], searching: false, error: null },
    account: null,
    sync: null,
    history: { query: "", calls: [], searching: false },
    devices: null,
    connection: null,
    level: null,
    muted: false,
    pendingTransfer: null,
    toasts: [],
    nextToast: 1,
  };
}

const MAX_TOASTS = 5;

function newCall(id: string, now: number, state: CallState): Call {
  return {
    id,
    direction: "outbound",
    remote: "",
    name: null,
    queue: null,
    case: null,
    state,
    since: now,
    connectedAt: null,
    heldAt: null,
    endedAt: null,
    transfer: null,
    quality: null,
    context: null,
    consultFor: null,
    conference: false,
  };
}

function withCall(view: View, call: Call): View {
  const order = view.order.includes(call.id) ? view.order : [...view.order, call.id];
  return { ...view, calls: { ...view.calls, [call.id]: call }, order };
}

/** Calls still up (not ended), oldest first. */
export function liveCalls(view: View): Call[] {
  return view.order.map((id) => view.calls[id]).filter((c): c is Call => !!c && c.state.state !== "ended");
}

/** Ringing inbound calls, which the incoming banner offers. */
export function ringingCalls(view: View): Call[] {
  return liveCalls(view).filter((c) => c.direction === "inbound" && c.state.state === "ringing");
}

/** The call the agent is talking on (connected, not a ringing one), else the newest live call. */
export function focusCall(view: View): Call | null {
  const live = liveCalls(view).filter((c) => !(c.direction === "inbound" && c.state.state === "ringing"));
  const customer = live.filter((c) => !c.consultFor);
  return (
    customer.find((c) => c.state.state === "connected") ??
    customer[customer.length - 1] ??
    live[live.length - 1] ??
    null
  );
}

/** The consult leg of a customer's call, if one is up. */
export function consultOf(view: View, customer: string): Call | null {
  return liveCalls(view).find((c) => c.consultFor === customer) ?? null;
}

/** Drops ended calls that nothing needs any more (not the one in wrap-up). */
function prune(view: View): View {
  const keep = view.order.filter((id) => {
    const c = view.calls[id];
    return c && (c.state.state !== "ended" || id === view.wrapUpCall);
  });
  if (keep.length === view.order.length) return view;
  const calls: Record<string, Call> = {};
  const notes: Record<string, NoteState> = {};
  for (const id of keep) {
    calls[id] = view.calls[id] as Call;
    const n = view.notes[id];
    if (n) notes[id] = n;
  }
  return { ...view, calls, order: keep, notes };
}

/** Adds an error for the toast region. */
export function addToast(view: View, code: Toast["code"], message: string, now: number): View {
  const toast: Toast = { id: view.nextToast, code, message, at: now };
  return { ...view, toasts: [...view.toasts, toast].slice(-MAX_TOASTS), nextToast: view.nextToast + 1 };
}

export function dismissToast(view: View, id: number): View {
  return { ...view, toasts: view.toasts.filter((t) => t.id !== id) };
}

/** Keeps the agent's typing for a call's note. */
export function setNoteText(view: View, call: string, text: string): View {
  const prev = view.notes[call] ?? { note: null, sync: null, reason: null, text: "" };
  return { ...view, notes: { ...view.notes, [call]: { ...prev, text } } };
}

/**
 * What a command means for the view before its events arrive: the things
 * the events do not carry (the expert's name as the agent picked it, searches under way).
 */
export function beforeCommand(view: View, cmd: AgentCommand, expertName: string | null = null): View {
  switch (cmd.cmd) {
    case "transfer":
      return {
        ...view,
        pendingTransfer: { call: cmd.call ?? focusCall(view)?.id ?? "", to: cmd.to, name: expertName, mode: cmd.mode },
      };
    case "experts":
      return { ...view, experts: { ...view.experts, query: cmd.query, searching: true, error: null } };
    case "history":
      return { ...view, history: { ...view.history, query: cmd.query ?? "", searching: true } };
    case "connection":
    case "configure":
      // Reading the settings again, or saving them again, forgets that an
      // earlier save is waiting for a restart until the answer says so.
      return view.connection?.saved ? { ...view, connection: { ...view.connection, saved: false } } : view;
    default:
      return view;
  }
}

/** What a command that succeeded means when no event reports it (mute). */
export function afterCommand(view: View, cmd: AgentCommand, ok: boolean): View {
  if (!ok) {
    switch (cmd.cmd) {
      case "transfer":
        return { ...view, pendingTransfer: null };
      case "experts":
        return { ...view, experts: { ...view.experts, searching: false } };
      case "history":
        return { ...view, history: { ...view.history, searching: false } };
      default:
        return view;
    }
  }
  switch (cmd.cmd) {
    case "mute":
      return { ...view, muted: cmd.on };
    default:
      return view;
  }
}

/** Applies one event. */
export function fold(view: View, ev: AgentEvent, now: number): View {
  switch (ev.event) {
    case "ready":
      return { ...view, session: ev.session };
    case "registration":
      return { ...view, registration: ev.registration };
    case "state": {
      const agent = ev.agent;
      let next: View = {
        ...view,
        agent,
        agentSince: view.agent.state === agent.state ? view.agentSince : now,
        wrapUpEndsAt: agent.state === "wrap_up" ? now + agent.seconds_left * 1000 : null,
      };
      if (agent.state !== "wrap_up") {
        next = prune({ ...next, wrapUpCall: null });
      }
      if (agent.state !== "on_call" && agent.state !== "wrap_up" && liveCalls(next).length === 0) {
        next = { ...next, muted: false };
      }
      return next;
    }
    case "incoming": {
      const prev = view.calls[ev.call];
      const call: Call = {
        ...(prev ?? newCall(ev.call, now, { state: "ringing" })),
        direction: "inbound",
        remote: ev.from,
        name: ev.display_name ?? prev?.name ?? null,
        queue: ev.queue ?? null,
        case: ev.case ?? null,
      };
      return withCall(prune(view), call);
    }
    case "call": {
      // The event says who started the call, who the other party is and
      // which customer call a consult is for: nothing here is guessed.
      const prev = view.calls[ev.call];
      let next = prev ? view : prune(view);
      const consultFor = ev.consult_for ?? null;
      const pt = view.pendingTransfer;
      // The expert's name as the agent picked it (the network's may be a bare number).
      const picked = consultFor !== null && pt?.call === consultFor ? pt.name : null;
      let call: Call = {
        ...(prev ?? newCall(ev.call, now, ev.state)),
        state: ev.state,
        direction: ev.direction,
        remote: ev.remote.number,
        name: prev?.name ?? picked ?? ev.remote.name ?? null,
        consultFor,
      };
      if (ev.state.state === "connected" && call.connectedAt === null) call = { ...call, connectedAt: now };
      // A hold's clock starts when it starts, and runs on while held goes to held by both ends.
      const holding = (s: CallState["state"] | undefined) => s === "held" || s === "remote_held";
      if (!holding(ev.state.state)) call = { ...call, heldAt: null };
      else if (!holding(prev?.state.state) || call.heldAt === null) call = { ...call, heldAt: now };
      if (ev.state.state === "ended") {
        call = { ...call, endedAt: now, quality: null };
        // The customer's call (never a consult leg) that was talked on is what wrap-up is about.
        // A consult leg loses consult_for once it is handed over or goes on alone: it stays a consult.
        if (!call.consultFor && !prev?.consultFor && call.connectedAt !== null) next = { ...next, wrapUpCall: call.id };
      }
      return withCall(next, call);
    }
    case "transfer": {
      const prev = view.calls[ev.call];
      if (!prev) return view;
      const pt = view.pendingTransfer;
      const transfer: Transfer = {
        phase: ev.phase,
        reason: ev.reason ?? null,
        target: prev.transfer?.target ?? (pt?.call === ev.call ? (pt.name ?? pt.to) : null),
        mode: prev.transfer?.mode ?? (pt?.call === ev.call ? pt.mode : "warm"),
      };
      const finished = ev.phase === "completed" || ev.phase === "returned" || ev.phase === "failed";
      let next: View = finished && pt?.call === ev.call ? { ...view, pendingTransfer: null } : view;
      // Joined in a three-way call from the `conference` phase until the transfer moves on.
      const joined = ev.phase === "conference" || (ev.phase === "failed" && prev.conference);
      const consult = consultOf(view, ev.call);
      if (consult && consult.conference !== joined) next = withCall(next, { ...consult, conference: joined });
      return withCall(next, { ...prev, transfer, conference: joined });
    }
    case "quality": {
      const prev = view.calls[ev.call];
      if (!prev) return view;
      return withCall(view, { ...prev, quality: { mos: ev.mos, jitter_ms: ev.jitter_ms, loss_pct: ev.loss_pct } });
    }
    case "context": {
      const prev = view.calls[ev.call] ?? newCall(ev.call, now, { state: "ringing" });
      const c = ev.customer;
      return withCall(view, {
        ...prev,
        context: c,
        remote: prev.remote || c.phone,
        name: prev.name ?? c.name ?? null,
        queue: prev.queue ?? c.queue ?? null,
        case: prev.case ?? c.case ?? null,
      });
    }
    case "note_saved": {
      const key = ev.call ?? view.wrapUpCall ?? focusCall(view)?.id ?? "";
      const prev = view.notes[key] ?? { note: null, sync: null, reason: null, text: "" };
      return {
        ...view,
        notes: { ...view.notes, [key]: { ...prev, note: ev.note, sync: ev.sync, reason: ev.reason ?? null } },
      };
    }
    case "experts":
      return { ...view, experts: { query: ev.query, list: ev.experts, searching: false, error: null } };
    case "presence": {
      const list = view.experts.list.map((e) => (e.id === ev.expert.id ? ev.expert : e));
      return { ...view, experts: { ...view.experts, list } };
    }
    case "account":
      return { ...view, account: ev.account };
    case "sync":
      return { ...view, sync: ev.sync };
    case "history":
      return { ...view, history: { query: ev.query, calls: ev.calls, searching: false } };
    case "devices":
      return { ...view, devices: ev.devices };
    case "connection":
      return { ...view, connection: ev.connection };
    case "level":
      return { ...view, level: ev.input };
    case "mute":
      return { ...view, muted: ev.on };
    case "error": {
      // A search that Graph refused answers with an error, not `experts`:
      // the panel stops showing it as busy and says why.
      const next =
        ev.code === "microsoft365" && view.experts.searching
          ? { ...view, experts: { ...view.experts, searching: false, error: ev.message } }
          : view;
      return addToast(next, ev.code, ev.message, now);
    }
    default: {
      // Every kind is handled above: a kind added in Rust is a compile
      // error here. One that arrives anyway (a newer agent than these
      // bindings) changes nothing; the store reports it (see isKnownEvent).
      const unhandled: never = ev;
      void unhandled;
      return view;
    }
  }
}

/** Every event kind the fold understands; a `Record` so a new kind in the bindings is a compile error here too. */
const KNOWN: Record<AgentEvent["event"], true> = {
  ready: true,
  registration: true,
  state: true,
  incoming: true,
  call: true,
  transfer: true,
  quality: true,
  note_saved: true,
  context: true,
  experts: true,
  presence: true,
  account: true,
  sync: true,
  history: true,
  devices: true,
  connection: true,
  mute: true,
  level: true,
  error: true,
};

/** Whether `ev` is of a kind the fold handles (a newer agent may send more). */
export function isKnownEvent(ev: { event: unknown }): ev is AgentEvent {
  return typeof ev.event === "string" && Object.hasOwn(KNOWN, ev.event);
}
