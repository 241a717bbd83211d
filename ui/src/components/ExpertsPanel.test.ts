import { fireEvent, render, screen } from "@testing-library/svelte";
import ExpertsPanel from "./ExpertsPanel.svelte";
import { agent } from "../lib/agent.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

describe("ExpertsPanel", () => {
  let h: Harness | undefined;
  afterEach(() => teardown(h));

  it("lists experts with Teams presence in words and colour groups, and searches", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    await advance(300);
    const badges = screen.getAllByTestId("presence");
    expect(badges.map((b) => b.textContent?.trim())).toContain("Do not disturb · Presenting");
    expect(badges.find((b) => b.textContent?.trim().startsWith("Busy"))?.className).toContain("busy");
    expect(badges.find((b) => b.textContent?.trim().startsWith("Available"))?.className).toContain("available");
    expect(screen.queryByTestId("warm-transfer")).toBeNull();
    await fireEvent.input(screen.getByTestId("expert-search"), { target: { value: "refund" } });
    await advance(600);
    expect(h.sent.at(-1)).toEqual({ cmd: "experts", query: "refund" });
    expect(screen.getAllByTestId("expert").map((e) => e.querySelector(".name")?.textContent)).toEqual(["Amara Okafor", "Mateo Silva"]);
  });

  it("toggles a favourite", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    await advance(300);
    const star = screen.getByRole("button", { name: "Favourite: Lukas Brandt" });
    expect(star.getAttribute("aria-pressed")).toBe("false");
    await fireEvent.click(star);
    await advance(300);
    expect(h.sent).toContainEqual({ cmd: "favourite", expert: "e-2", on: true });
    expect(screen.getByRole("button", { name: "Favourite: Lukas Brandt" }).getAttribute("aria-pressed")).toBe("true");
  });

  it("Conference consults first, then joins everyone when the expert answers", async () => {
    h = await connectMock();
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    render(ExpertsPanel);
    await advance(300);
    await fireEvent.click(screen.getByRole("button", { name: "Conference with Amara Okafor" }));
    await advance(2500);
    expect(h.sent.slice(-2)).toEqual([
      { cmd: "transfer", to: "+442079460100", mode: "warm", call },
      { cmd: "conference" },
    ]);
    expect(agent.view.calls[call]?.conference).toBe(true);
  });

  it("asks to sign in when Microsoft 365 is signed out", async () => {
    h = await connectMock();
    await h.mock.command({ cmd: "sign_out" });
    render(ExpertsPanel);
    await advance();
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(h.sent.at(-1)).toEqual({ cmd: "sign_in" });
    await advance(1600);
    expect(screen.getByTestId("expert-search")).toBeTruthy();
  });
});
