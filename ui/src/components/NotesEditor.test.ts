import { fireEvent, render, screen } from "@testing-library/svelte";
import NotesEditor from "./NotesEditor.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

describe("NotesEditor", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("autosaves 800 ms after typing, then reuses the note id, and shows the sync state", async () => {
    h = await connectMock();
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    render(NotesEditor, { call });
    const box = screen.getByTestId("notes");
    await fireEvent.input(box, { target: { value: "Refund" } });
    await advance(799);
    expect(h.sent.filter((c) => c.cmd === "note")).toHaveLength(0);
    expect(screen.getByTestId("note-sync").textContent).toContain("Saving soon");
    await advance(1);
    expect(h.sent.filter((c) => c.cmd === "note")).toEqual([{ cmd: "note", text: "Refund", call }]);
    expect(screen.getByTestId("note-sync").textContent).toContain("Saved on this PC");
    await advance(1000);
    expect(screen.getByTestId("note-sync").textContent).toContain("Saved in the CRM");

    await fireEvent.input(box, { target: { value: "Refund agreed" } });
    await advance(800);
    expect(h.sent.filter((c) => c.cmd === "note").at(-1)).toEqual({ cmd: "note", text: "Refund agreed", call, note: "note-1" });
  });

  it("says when the CRM is offline and when a save failed, with the reason", async () => {
    h = await connectMock({ crmOffline: true });
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    render(NotesEditor, { call });
    await fireEvent.input(screen.getByTestId("notes"), { target: { value: "x" } });
    await advance(1200);
    expect(screen.getByTestId("note-sync").textContent).toContain("will sync when the CRM is back");
    h.mock.emit({ event: "note_saved", note: "note-1", call, sync: "failed", reason: "field too long" });
    await advance();
    expect(screen.getByTestId("note-sync").textContent).toContain("Not saved in the CRM: field too long");
  });
});
