import { fireEvent, render, screen, within } from "@testing-library/svelte";
import App from "../App.svelte";
import { agent } from "../lib/agent.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

async function talking(h: Harness): Promise<string> {
  const call = h.mock.ring();
  await h.mock.command({ cmd: "answer", call });
  render(App);
  await advance(500);
  return call;
}
const card = () => screen.getByTestId("call-card");
const timer = () => within(card()).getAllByRole("timer")[0] as HTMLElement;

describe("the call card", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("during a consult, the red Hang up ends the consult, not the held customer's call", async () => {
    h = await connectMock();
    const customer = await talking(h);
    await agent.send({ cmd: "transfer", to: "+442079460100", mode: "warm", call: customer }, { expertName: "Amara Okafor" });
    await advance(2500);
    const consult = agent.view.order.find((id) => agent.view.calls[id]?.consultFor === customer);
    expect(consult).toBeDefined();
    const hangup = within(card()).getByTestId("hangup");
    expect(hangup.textContent?.trim()).toBe("Hang up consult");
    await fireEvent.click(hangup);
    await advance();
    expect(h.sent.at(-1)).toEqual({ cmd: "hangup", call: consult });
    expect(agent.view.calls[customer]?.state.state).toBe("held");
    expect(within(card()).getByTestId("hangup").textContent?.trim()).toBe("Hang up");
  });

  it("On hold counts the hold, not the whole call", async () => {
    h = await connectMock();
    const call = await talking(h);
    await advance(65_000);
    expect(timer().textContent).toMatch(/^1:0[45]$/);
    await fireEvent.click(screen.getByTestId("hold"));
    await advance(7_000);
    expect(screen.getByTestId("call-state").textContent).toBe("On hold");
    // The clock ticks once a second: within a tick of the hold's 7 s, far from the call's 1:12.
    expect(timer().textContent).toMatch(/^0:0[67]$/);
    expect(timer().getAttribute("aria-label")).toBe("Time on hold");
    await h.mock.command({ cmd: "resume", call });
    await advance(1_000);
    expect(timer().textContent).toMatch(/^1:1[23]$/);
    expect(timer().getAttribute("aria-label")).toBe("Call duration");
  });

  it("says Muted in words while the microphone is muted", async () => {
    h = await connectMock();
    await talking(h);
    expect(screen.queryByTestId("muted-flag")).toBeNull();
    await fireEvent.click(screen.getByTestId("mute"));
    await advance();
    expect(screen.getByTestId("muted-flag").textContent?.trim()).toBe("Muted");
    await fireEvent.click(screen.getByTestId("mute"));
    await advance();
    expect(screen.queryByTestId("muted-flag")).toBeNull();
  });
  it("a refused hold: the toast says so and the call is connected again, ready to try again", async () => {
    h = await connectMock();
    const call = await talking(h);
    await h.mock.command({ cmd: "hold", call });
    // What the agent sends when the far end refuses the re-INVITE.
    h.mock.emit({ event: "error", code: "offer_refused", message: "The far end refused the hold (488)" });
    h.mock.emit({ event: "call", call, state: { state: "connected" }, direction: "inbound", remote: { number: "+442079460321", name: "Priya Raman" }, consult_for: null });
    await advance();
    expect(screen.getByTestId("call-state").textContent).toBe("Connected");
    expect(screen.getByTestId("hold").hasAttribute("disabled")).toBe(false);
    expect(screen.getByRole("region", { name: "Notifications" }).textContent).toContain("The other side refused; the call is as it was, try again");
  });
});
