// The desktop's one store: it follows the backend's event stream and folds
// each event into `agent.view` (see agent/fold.ts, which is pure and tested
// on its own). Every user action goes through `agent.send`, which shows a
// failed command to the agent as a toast.
import { untrack } from "svelte";
import { backend, type AgentCommand, type AgentEvent, type Backend, type ErrorPayload } from "./backend";
import {
  addToast,
  afterCommand,
  beforeCommand,
  dismissToast,
  fold,
  initialView,
  isKnownEvent,
  setNoteText,
  type View,
} from "./agent/fold";

class AgentStore {
  view = $state.raw<View>(initialView(Date.now()));
  private unsubscribe: (() => void) | null = null;

  apply(event: AgentEvent): void {
    if (!isKnownEvent(event)) {
      // A newer agent than these bindings: never silently ignored.
      const kind = String((event as { event: unknown }).event);
      console.error(`warmline: an agent event of unknown kind "${kind}"`, event);
      if (import.meta.env.DEV) this.toast("client", `Unknown agent event "${kind}" (the UI's bindings are older than the agent)`);
      return;
    }
    this.view = fold(this.view, event, Date.now());
  }

  /** Follows `b` (the app's backend by default) and rebuilds state from its snapshot. */
  async connect(b: Backend = backend()): Promise<void> {
    this.disconnect();
    try {
      this.unsubscribe = await b.subscribe((e) => this.apply(e));
    } catch (e) {
      this.toast("internal", e instanceof Error ? e.message : String(e));
      return;
    }
    const snap = await b.snapshot();
    if (snap.status === "ok") for (const e of snap.data) this.apply(e);
    else this.toast(snap.error.code, snap.error.message);
  }

  disconnect(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Runs a command; a failure becomes a toast. Resolves to whether it worked. */
  async send(cmd: AgentCommand, opts: { expertName?: string | null } = {}): Promise<boolean> {
    const error = await this.attempt(cmd, opts);
    if (error) this.toast(error.code, error.message);
    return error === null;
  }

  /**
   * Runs a command for a form that shows its own errors (no toast).
   * Resolves to the error, or null when it worked.
   */
  async attempt(cmd: AgentCommand, opts: { expertName?: string | null } = {}): Promise<ErrorPayload | null> {
    // Commands are often sent from effects (a dialog opening); reading the
    // view here must not make that effect depend on it.
    untrack(() => (this.view = beforeCommand(this.view, cmd, opts.expertName ?? null)));
    const outcome = await untrack(() => backend().command(cmd));
    const ok = outcome.status === "ok";
    this.view = afterCommand(this.view, cmd, ok);
    return outcome.status === "error" ? outcome.error : null;
  }

  /** Restarts the app (saved connection settings apply at the next start); a failure becomes a toast. */
  async restart(): Promise<boolean> {
    const outcome = await untrack(() => backend().restart());
    if (outcome.status === "error") this.toast(outcome.error.code, outcome.error.message);
    return outcome.status === "ok";
  }

  toast(code: Parameters<typeof addToast>[1], message: string): void {
    this.view = addToast(this.view, code, message, Date.now());
  }

  dismiss(id: number): void {
    this.view = dismissToast(this.view, id);
  }

  setNoteText(call: string, text: string): void {
    this.view = setNoteText(this.view, call, text);
  }

  /** Back to nothing (tests). */
  reset(): void {
    this.disconnect();
    this.view = initialView(Date.now());
  }
}

export const agent = new AgentStore();
