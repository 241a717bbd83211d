import { fireEvent, render, screen } from "@testing-library/svelte";
import WrapUp from "./WrapUp.svelte";
import { agent } from "../lib/agent.svelte";
import { setLanguage } from "../lib/i18n/index.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

async function intoWrapUp(h: Harness): Promise<void> {
  const call = h.mock.ring();
  await h.mock.command({ cmd: "answer", call });
  await h.mock.command({ cmd: "hangup", call });
  await advance();
}

const choices = () => screen.getAllByTestId("disposition").map((r) => r.closest("label")?.textContent?.trim());

describe("WrapUp", () => {
  let h: Harness | undefined;
  afterEach(() => {
    teardown(h);
    setLanguage("en");
  });

  it("shows the default dispositions in the UI's language and sends the code", async () => {
    h = await connectMock();
    await intoWrapUp(h);
    render(WrapUp);
    expect(choices()).toEqual(["Resolved", "Follow-up needed", "Escalated", "Callback scheduled", "Wrong number"]);
    setLanguage("es");
    await advance();
    expect(choices()).toEqual([
      "Resuelta",
      "Requiere seguimiento",
      "Escalada",
      "Devolución de llamada programada",
      "Número equivocado",
    ]);
    await fireEvent.click(screen.getByLabelText("Devolución de llamada programada"));
    await fireEvent.submit(screen.getByTestId("wrapup"));
    await advance();
    expect(h.sent.at(-1)).toEqual({ cmd: "wrapup", disposition: "callback" });
  });

  it("records the disposition as soon as it is picked, so wrap-up's time running out loses nothing", async () => {
    h = await connectMock();
    await intoWrapUp(h);
    render(WrapUp);
    await fireEvent.click(screen.getByLabelText("Escalated"));
    await advance();
    expect(h.sent.at(-1)).toEqual({ cmd: "disposition", disposition: "escalated" });
    expect(agent.view.agent.state).toBe("wrap_up");
    await fireEvent.click(screen.getByLabelText("Resolved"));
    await fireEvent.submit(screen.getByTestId("wrapup"));
    await advance();
    expect(h.sent.slice(-2)).toEqual([
      { cmd: "disposition", disposition: "resolved" },
      { cmd: "wrapup", disposition: "resolved" },
    ]);
  });

  it("keeps an administrator's labels and puts unknown codes into words", async () => {
    h = await connectMock();
    const session = agent.view.session!;
    h.mock.emit({
      event: "ready",
      session: {
        ...session,
        dispositions: [
          { code: "resolved", label: "Fixed on first call" },
          { code: "escalated", label: "Escalated" },
          { code: "callback_requested", label: "callback_requested" },
        ],
      },
    });
    await intoWrapUp(h);
    setLanguage("es");
    render(WrapUp);
    expect(choices()).toEqual(["Fixed on first call", "Escalada", "Callback requested"]);
    const radio = screen.getByLabelText("Callback requested") as HTMLInputElement;
    expect(radio.value).toBe("callback_requested");
  });
});
