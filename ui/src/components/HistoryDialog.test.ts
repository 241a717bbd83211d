import { fireEvent, render, screen, within } from "@testing-library/svelte";
import HistoryDialog from "./HistoryDialog.svelte";
import { agent } from "../lib/agent.svelte";
import type { HistoryEntry } from "../lib/agent/fold";
import { setLanguage } from "../lib/i18n/index.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

const row = (name: string) => screen.getByText(name, { selector: "strong" }).closest("li") as HTMLElement;
/** The list's own rows (not the consult calls nested in them). */
const topRows = () => [...screen.getByTestId("history-list").children] as HTMLElement[];
/** A row's text with its whitespace folded. */
const text = (el: HTMLElement) => (el.textContent ?? "").replace(/\s+/g, " ").trim();

function entry(call: string, over: Partial<HistoryEntry>): HistoryEntry {
  return {
    call,
    direction: "inbound",
    party: "+442079460999",
    name: null,
    queue: null,
    case: null,
    consult_for: null,
    started_ms: Date.UTC(2026, 10, 23, 8, 0),
    answered: true,
    duration_s: 60,
    disposition: null,
    transferred_to: null,
    notes: "",
    ...over,
  };
}

describe("HistoryDialog", () => {
  let h: Harness | undefined;
  afterEach(() => {
    teardown(h);
    setLanguage("en");
  });

  it("shows dispositions in the UI's language", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    expect(within(row("Priya Raman")).getByTestId("history-disposition").textContent).toBe("Callback scheduled");
    expect(within(row("Oliver Grant")).getByTestId("history-disposition").textContent).toBe("Escalated");
    setLanguage("es");
    await advance();
    expect(within(row("Priya Raman")).getByTestId("history-disposition").textContent).toBe("Devolución de llamada programada");
    expect(within(row("Javier Ortega Muñoz")).getByTestId("history-disposition").textContent).toBe("Resuelta");
  });

  it("shows a transfer target by number with the URI as its tooltip, and by name once the expert is known", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    let to = within(row("Oliver Grant")).getByTestId("history-transfer");
    expect(to.textContent).toBe("Transferred to +44 2079460101");
    expect(to.getAttribute("title")).toBe("sip:+442079460101@sbc.contoso.example;user=phone");

    // Lukas Brandt is dialled at that number: once a search has shown him, his name.
    await agent.send({ cmd: "experts", query: "Lukas" });
    await advance(300);
    to = within(row("Oliver Grant")).getByTestId("history-transfer");
    expect(to.textContent).toBe("Transferred to Lukas Brandt");
    expect(to.getAttribute("title")).toBe("sip:+442079460101@sbc.contoso.example;user=phone");
    setLanguage("es");
    await advance();
    expect(within(row("Oliver Grant")).getByTestId("history-transfer").textContent).toBe("Transferida a Lukas Brandt");
  });

  it("names addresses and unknown codes for people, and leaves outside text as text", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    h.mock.emit({
      event: "history",
      query: "",
      calls: [
        entry("x-1", { name: "Ana", transferred_to: "sip:alice@contoso.com", disposition: "callback_requested" }),
        entry("x-2", { name: "Ben", transferred_to: "sip:+15550123456@sbc.example;user=phone", disposition: "<b>x</b>" }),
      ],
    });
    await advance();
    const ana = within(row("Ana"));
    expect(ana.getByTestId("history-transfer").textContent).toBe("Transferred to alice");
    expect(ana.getByTestId("history-transfer").getAttribute("title")).toBe("sip:alice@contoso.com");
    expect(ana.getByTestId("history-disposition").textContent).toBe("Callback requested");
    const ben = within(row("Ben"));
    expect(ben.getByTestId("history-transfer").textContent).toBe("Transferred to +1 555-012-3456");
    expect(ben.getByTestId("history-disposition").textContent).toBe("<b>x</b>");
    expect(row("Ben").querySelector("b")).toBeNull();
  });

  it("names the expert a call was handed to after a warm transfer", async () => {
    h = await connectMock();
    await agent.send({ cmd: "experts", query: "" });
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    await h.mock.command({ cmd: "transfer", to: "+442079460100", mode: "warm", call });
    await advance(2500);
    await h.mock.command({ cmd: "complete_transfer" });
    await h.mock.command({ cmd: "wrapup", disposition: "escalated" });
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    const first = screen.getAllByRole("listitem")[0] as HTMLElement;
    expect(first.textContent).toContain("Priya Raman");
    expect(within(first).getByTestId("history-transfer").textContent).toBe("Transferred to Amara Okafor");
    expect(within(first).getByTestId("history-transfer").getAttribute("title")).toBe("+442079460100");
    expect(within(first).getByTestId("history-disposition").textContent).toBe("Escalated");
    expect(within(first).getByTestId("history-case").textContent).toBe("CS-40213");
    // The consult call the mock recorded, under the customer's call.
    expect(text(within(first).getByTestId("history-consult"))).toMatch(/^Consult with Amara Okafor · 0:0\d$/);
    expect(screen.queryByTestId("history-consult-tag")).toBeNull();
  });

  it("nests a consult call under the customer call it was made for, named like a transfer target", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    // Six calls, five rows: the consult (listed before its customer call, being newer) is not a row of its own.
    expect(topRows()).toHaveLength(5);
    expect(topRows().map((r) => within(r).getAllByRole("strong")[0]?.textContent)).toEqual([
      "Priya Raman",
      "Hannah Clarke",
      "Javier Ortega Muñoz",
      "+15550199",
      "Oliver Grant",
    ]);
    expect(screen.queryByTestId("history-consult-tag")).toBeNull();
    const hannah = row("Hannah Clarke");
    const consults = within(hannah).getByRole("list", { name: "Consult calls for Hannah Clarke" });
    const consult = within(consults).getByRole("listitem");
    expect(text(consult)).toBe("Consult with +44 2079460100 · 1:35");
    expect(within(consult).getByText("Consult with +44 2079460100").getAttribute("title")).toBe("+442079460100");
    // The consult has no call-back button of its own; the customer call keeps one.
    expect(within(hannah).getAllByRole("button")).toHaveLength(1);
    expect(within(hannah).getByRole("button").getAttribute("aria-label")).toBe("Call back Hannah Clarke");

    await agent.send({ cmd: "experts", query: "Amara" });
    await advance(300);
    expect(text(within(row("Hannah Clarke")).getByTestId("history-consult"))).toBe("Consult with Amara Okafor · 1:35");
    setLanguage("es");
    await advance();
    expect(within(row("Hannah Clarke")).getByRole("list", { name: "Llamadas de consulta de Hannah Clarke" })).toBeTruthy();
    expect(text(within(row("Hannah Clarke")).getByTestId("history-consult"))).toBe("Consulta con Amara Okafor · 1:35");
  });

  it("shows the case id beside the queue of a routed call", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    expect(text(row("Hannah Clarke"))).toContain("Queue: Billing · Case: CS-40177");
    expect(within(row("Oliver Grant")).getByTestId("history-case").textContent).toBe("CS-39871");
    expect(within(row("+15550199")).queryByTestId("history-case")).toBeNull();
    expect(within(row("Javier Ortega Muñoz")).queryByTestId("history-case")).toBeNull();
    setLanguage("es");
    await advance();
    expect(text(row("Hannah Clarke"))).toContain("Cola: Billing · Caso: CS-40177");
  });

  it("shows a consult call as a tagged row when its customer call is not listed", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    // The consult matches the search by the expert's number; Hannah's call does not.
    const search = screen.getByRole("searchbox", { name: "Search calls" }) as HTMLInputElement;
    search.value = "2079460100";
    await fireEvent.input(search);
    await advance(500);
    expect(topRows()).toHaveLength(1);
    const only = topRows()[0] as HTMLElement;
    expect(within(only).getByTestId("history-consult-tag").textContent).toBe("Consult");
    expect(within(only).getByRole("strong").textContent).toBe("+44 2079460100");
    expect(within(only).getByRole("strong").getAttribute("title")).toBe("+442079460100");
    expect(within(only).queryByRole("list")).toBeNull();
    expect(within(only).getByRole("button").getAttribute("aria-label")).toBe("Call back +44 2079460100");
    setLanguage("es");
    await advance();
    expect(within(topRows()[0] as HTMLElement).getByTestId("history-consult-tag").textContent).toBe("Consulta");
  });

  it("nests consults in either order and never loses a call to odd links", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    h.mock.emit({
      event: "history",
      query: "",
      calls: [
        entry("c-2", { direction: "outbound", party: "sip:+442079460101@sbc.example;user=phone", consult_for: "x-1", answered: false, duration_s: 0 }),
        entry("x-1", { name: "Ana", transferred_to: "sip:+442079460102@sbc.example;user=phone" }),
        entry("c-1", { direction: "outbound", party: "sip:bob@contoso.com", name: "Bob Stone", consult_for: "x-1", duration_s: 75 }),
        // A consult of a consult, one of itself, two of each other: rows of their own.
        entry("c-3", { direction: "outbound", party: "+15550100", consult_for: "c-1" }),
        entry("c-4", { direction: "outbound", party: "+15550104", consult_for: "c-4" }),
        entry("c-5", { direction: "outbound", party: "+15550105", consult_for: "c-6" }),
        entry("c-6", { direction: "outbound", party: "+15550106", consult_for: "c-5" }),
        entry("y-1", { name: "Ben", consult_for: null }),
      ],
    });
    await advance();
    expect(topRows().map((r) => within(r).getAllByRole("strong")[0]?.textContent)).toEqual([
      "Ana",
      "+1 5550100",
      "+1 5550104",
      "+1 5550105",
      "+1 5550106",
      "Ben",
    ]);
    const nested = within(row("Ana")).getAllByTestId("history-consult").map(text);
    expect(nested).toEqual(["Consult with +44 2079460101 · Not answered", "Consult with Bob Stone · 1:15"]);
    expect(screen.getAllByTestId("history-consult-tag")).toHaveLength(4);
    expect(within(row("Ben")).queryByRole("list")).toBeNull();
    expect(screen.getByRole("status").textContent).toBe("8 calls");
  });

  it("shows an answered consult shorter than a second as answered", async () => {
    h = await connectMock();
    render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    h.mock.emit({
      event: "history",
      query: "",
      calls: [
        entry("c-1", { direction: "outbound", party: "sip:bob@contoso.com", name: "Bob Stone", consult_for: "x-1", answered: true, duration_s: 0 }),
        entry("x-1", { name: "Ana" }),
      ],
    });
    await advance();
    expect(within(row("Ana")).getAllByTestId("history-consult").map(text)).toEqual(["Consult with Bob Stone · 0:00"]);
  });
});
