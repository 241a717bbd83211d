import { render } from "@testing-library/svelte";
import App from "../App.svelte";
import CustomerContext from "./CustomerContext.svelte";
import HistoryDialog from "./HistoryDialog.svelte";
import { agent } from "../lib/agent.svelte";
import { focusCall } from "../lib/agent/fold";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

// Names, CRM fields, notes and expert names come from outside: they must
// show as text and never become elements.
const MARKUP = "img[src=x], script, iframe, svg[onload], a[href^=javascript], b, i, [onerror], [onload]";

describe("outside data is rendered as text", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("in the incoming banner, call card and screen pop", async () => {
    h = await connectMock({ scenario: "hostile" });
    const { container } = render(App);
    const call = h.mock.ring();
    await advance(1000);
    const banner = container.querySelector("[data-testid=incoming]") as HTMLElement;
    expect(banner.querySelectorAll(MARKUP)).toHaveLength(0);
    expect(banner.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(banner.textContent).toContain("<script>alert('case')</script>");

    h.mock.emit({
      event: "presence",
      expert: { ...agent.view.experts.list[0]!, name: "<img src=x onerror=alert(7)>" },
    });
    await h.mock.command({ cmd: "answer", call });
    await advance();
    expect(container.querySelectorAll(MARKUP)).toHaveLength(0);
    const text = container.textContent ?? "";
    expect(text).toContain("<script>alert(1)</script>");
    expect(text).toContain("<iframe src=javascript:alert(6)></iframe>");
    expect(text).toContain("<a href=javascript:alert(5)>click</a>");
    expect(text).toContain("<img src=x onerror=alert(7)>");
  });

  it("in a note the agent typed and in history", async () => {
    h = await connectMock({ scenario: "hostile" });
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    agent.setNoteText(call, "<script>alert('note')</script>");
    const shown = focusCall(agent.view)!;
    const ctx = render(CustomerContext, { call: shown });
    expect(ctx.container.querySelectorAll(MARKUP)).toHaveLength(0);
    ctx.unmount();

    h.mock.emit({
      event: "history",
      query: "",
      calls: [
        {
          call: "h",
          direction: "inbound",
          party: "+1",
          name: "<img src=x onerror=alert(8)>",
          started_ms: 0,
          answered: true,
          duration_s: 3,
          notes: "<script>alert(9)</script>",
        },
      ],
    });
    const hist = render(HistoryDialog, { onclose: () => {} });
    await advance(300);
    h.mock.emit({
      event: "history",
      query: "",
      calls: [
        {
          call: "h",
          direction: "inbound",
          party: "+1",
          name: "<img src=x onerror=alert(8)>",
          started_ms: 0,
          answered: true,
          duration_s: 3,
          notes: "<script>alert(9)</script>",
        },
      ],
    });
    await advance();
    const list = document.querySelector("[data-testid=history-list]") as HTMLElement;
    expect(list.querySelectorAll(MARKUP)).toHaveLength(0);
    expect(list.textContent).toContain("<img src=x onerror=alert(8)>");
    expect(list.textContent).toContain("<script>alert(9)</script>");
    hist.unmount();
  });
});
