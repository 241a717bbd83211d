import { fireEvent, render, screen } from "@testing-library/svelte";
import App from "../App.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

describe("the agent desktop, against the mock contact center", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("rings, answers, hangs up and wraps up", async () => {
    h = await connectMock({ ringAfterMs: 1000 });
    render(App);
    await advance(500);
    expect(screen.getByTestId("health-0").textContent).toContain("Connected");

    await fireEvent.click(screen.getByTestId("go-available"));
    await advance(1000);
    const banner = screen.getByRole("alertdialog");
    expect(banner.textContent).toContain("Priya Raman");
    expect(banner.textContent).toContain("Billing");
    expect(document.activeElement).toBe(screen.getByTestId("answer"));

    await fireEvent.keyDown(window, { key: "A", ctrlKey: true, shiftKey: true });
    await advance(1000);
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(screen.getByTestId("call-state").textContent).toBe("Connected");
    expect(screen.getByTestId("context-name").textContent).toBe("Priya Raman");
    expect(screen.getByText("Open balance")).toBeTruthy();

    await fireEvent.click(screen.getByTestId("hold"));
    await advance();
    expect(screen.getByTestId("call-state").textContent).toBe("On hold");
    await fireEvent.click(screen.getByTestId("resume"));
    await fireEvent.click(screen.getByTestId("mute"));
    await advance();
    expect(screen.getByTestId("mute").getAttribute("aria-pressed")).toBe("true");

    await fireEvent.click(screen.getByTestId("hangup"));
    await advance();
    expect(screen.getByTestId("wrapup").textContent).toContain("Wrap-up");
    await fireEvent.submit(screen.getByTestId("wrapup"));
    await advance();
    expect(screen.getByText("Choose how the call ended first.").getAttribute("role")).toBe("alert");
    await fireEvent.click(screen.getByLabelText("Resolved"));
    await fireEvent.submit(screen.getByTestId("wrapup"));
    await advance();
    expect(h.sent.at(-1)).toEqual({ cmd: "wrapup", disposition: "resolved" });
    expect(screen.queryByTestId("wrapup")).toBeNull();
  });

  it("consults an expert, then completes the transfer", async () => {
    h = await connectMock();
    render(App);
    await advance(500);
    const call = h.mock.ring();
    await advance(1000);
    await fireEvent.click(screen.getByTestId("answer"));
    await advance();
    const warm = screen.getByRole("button", { name: "Warm transfer to Amara Okafor" });
    await fireEvent.click(warm);
    await advance();
    expect(h.sent.at(-1)).toEqual({ cmd: "transfer", to: "+442079460100", mode: "warm", call });
    expect(screen.getByTestId("transfer-status").textContent).toContain("Calling Amara Okafor");
    expect(screen.getByTestId("call-state").textContent).toBe("On hold");
    await advance(2000);
    expect(screen.getByTestId("transfer-status").textContent).toContain("Talking to Amara Okafor");
    expect(screen.getByTestId("consult").textContent).toContain("Consult with Amara Okafor");
    await fireEvent.click(screen.getByTestId("complete-transfer"));
    await advance();
    expect(screen.getByTestId("wrapup")).toBeTruthy();
    expect(screen.queryByTestId("call-card")).toBeNull();
  });

  it("returns to the customer with the reason when the expert does not answer", async () => {
    h = await connectMock();
    render(App);
    const call = h.mock.ring();
    await advance(1000);
    await fireEvent.click(screen.getByTestId("answer"));
    await advance();
    // Lukas is not a favourite: he shows once searched for.
    await fireEvent.input(screen.getByTestId("expert-search"), { target: { value: "Lukas" } });
    await advance(600);
    await fireEvent.click(screen.getByRole("button", { name: "Warm transfer to Lukas Brandt" }));
    await advance(2500);
    expect(screen.getByTestId("transfer-status").textContent).toContain("Back with the customer");
    expect(screen.getByTestId("transfer-status").textContent).toContain("Lukas Brandt did not answer");
    expect(call).toBeTruthy();
  });

  it("shows a refused command to the agent in words", async () => {
    h = await connectMock();
    render(App);
    await fireEvent.input(screen.getByTestId("dial-input"), { target: { value: "+1900555" } });
    await fireEvent.submit(screen.getByTestId("dial-input").closest("form") as HTMLFormElement);
    await advance();
    const toast = screen.getByTestId("toast");
    expect(toast.textContent).toContain("Number not allowed");
    expect(toast.textContent).toContain("Premium-rate numbers are blocked");
  });

  it("opens settings with Ctrl+Shift+S, starts the meter, and Escape closes it", async () => {
    h = await connectMock();
    render(App);
    await fireEvent.keyDown(window, { key: "S", ctrlKey: true, shiftKey: true });
    await advance(300);
    const dialog = screen.getByRole("dialog");
    expect(dialog.textContent).toContain("Keyboard shortcuts");
    expect(h.sent).toContainEqual({ cmd: "meter", on: true });
    expect(Number(screen.getByTestId("mic-meter").getAttribute("aria-valuenow"))).toBeGreaterThan(0);
    await fireEvent.keyDown(dialog, { key: "Escape" });
    await advance();
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(h.sent).toContainEqual({ cmd: "meter", on: false });
  });
});

describe("several calls", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("holds the first call when a second is answered, and a ringing call closes a dialog", async () => {
    h = await connectMock();
    render(App);
    const first = h.mock.ring();
    await advance(1000);
    await fireEvent.click(screen.getByTestId("answer"));
    await advance();
    await fireEvent.keyDown(window, { key: "Y", ctrlKey: true, shiftKey: true });
    await advance(300);
    expect(screen.getByRole("dialog")).toBeTruthy();
    h.mock.ring();
    await advance(1000);
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(screen.getByTestId("answer"));
    await fireEvent.click(screen.getByTestId("answer"));
    await advance();
    const states = screen.getAllByTestId("call-state").map((e) => e.textContent);
    expect(states).toEqual(["On hold", "Connected"]);
    expect(screen.getAllByTestId("call-name")[0]?.textContent).toBe("Priya Raman");
    expect(first).toBe("call-1");
  });
});
