import { render, screen, within } from "@testing-library/svelte";
import HistoryDialog from "./HistoryDialog.svelte";
import { agent } from "../lib/agent.svelte";
import type { HistoryEntry } from "../lib/agent/fold";
import { setLanguage } from "../lib/i18n/index.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

const row = (name: string) => screen.getByText(name, { selector: "strong" }).closest("li") as HTMLElement;

function entry(call: string, over: Partial<HistoryEntry>): HistoryEntry {
  return {
    call,
    direction: "inbound",
    party: "+442079460999",
    name: null,
    queue: null,
    started_ms: Date.UTC(2026, 10, 23, 8, 0),
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
  });
});
