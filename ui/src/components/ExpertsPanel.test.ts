import { fireEvent, render, screen, within } from "@testing-library/svelte";
import ExpertsPanel from "./ExpertsPanel.svelte";
import { agent } from "../lib/agent.svelte";
import { setLanguage } from "../lib/i18n/index.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

const names = () => screen.queryAllByTestId("expert").map((e) => e.querySelector(".name")?.textContent);

async function search(query: string): Promise<void> {
  await fireEvent.input(screen.getByTestId("expert-search"), { target: { value: query } });
  await advance(600);
}

describe("ExpertsPanel", () => {
  let h: Harness | undefined;
  afterEach(() => {
    teardown(h);
    setLanguage("en");
  });

  it("lists experts with Teams presence in words and colour groups, and searches", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    await advance(300);
    await search("customer success");
    const badges = screen.getAllByTestId("presence");
    expect(badges.map((b) => b.textContent?.trim())).toContain("Do not disturb · Presenting");
    expect(badges.find((b) => b.textContent?.trim().startsWith("Away"))?.className).toContain("away");
    expect(screen.queryByTestId("warm-transfer")).toBeNull();
    await search("refund");
    expect(h.sent.at(-1)).toEqual({ cmd: "experts", query: "refund" });
    expect(names()).toEqual(["Amara Okafor", "Mateo Silva"]);
    expect(screen.getAllByTestId("presence").find((b) => b.textContent?.trim().startsWith("Available"))?.className).toContain("available");
  });

  it("shows the favourites before any search, and says no one matches only after a search", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    // Asking: busy, and said so to screen readers.
    expect(h.sent.at(-1)).toEqual({ cmd: "experts", query: "" });
    expect(screen.getByTestId("experts-status").textContent).toBe("Searching…");
    expect(screen.getByTestId("experts-list").getAttribute("aria-busy")).toBe("true");
    expect(screen.queryByText("No experts match.")).toBeNull();
    await advance(300);
    expect(screen.getByTestId("experts-list").getAttribute("aria-busy")).toBe("false");
    expect(screen.getByRole("heading", { name: "Favourites" })).toBeTruthy();
    expect(screen.getByRole("list", { name: "Favourites" })).toBe(screen.getByTestId("experts-list"));
    expect(names()).toEqual(["Amara Okafor", "Sofía Herrera"]);
    expect(screen.getByTestId("experts-status").textContent).toBe("2 favourites");
    expect(screen.queryByText("No experts match.")).toBeNull();

    await search("zzz nobody");
    expect(names()).toEqual([]);
    expect(screen.getByTestId("experts-empty").textContent).toBe("No experts match.");
    expect(screen.getByTestId("experts-status").textContent).toBe("No experts match.");
    expect(screen.queryByRole("heading", { name: "Favourites" })).toBeNull();

    // Clearing the search goes back to the favourites.
    await search("");
    expect(names()).toEqual(["Amara Okafor", "Sofía Herrera"]);
    expect(screen.queryByTestId("experts-empty")).toBeNull();
  });

  it("suggests searching when there are no favourites yet, in English and Spanish", async () => {
    h = await connectMock();
    await h.mock.command({ cmd: "favourite", expert: "e-1", on: false });
    await h.mock.command({ cmd: "favourite", expert: "e-3", on: false });
    const { unmount } = render(ExpertsPanel);
    await advance(300);
    expect(names()).toEqual([]);
    expect(screen.getByTestId("experts-empty").textContent).toBe(
      "Search Teams by name, skill or department. Star an expert to keep them here.",
    );
    expect(screen.queryByText("No experts match.")).toBeNull();
    unmount();

    setLanguage("es");
    render(ExpertsPanel);
    await advance(300);
    expect(screen.getByTestId("experts-empty").textContent).toBe(
      "Busque en Teams por nombre, habilidad o departamento. Marque a un experto con la estrella para tenerlo aquí.",
    );
    await search("zzz");
    expect(screen.getByTestId("experts-empty").textContent).toBe("Ningún experto coincide.");
  });

  it("names the favourites in Spanish", async () => {
    h = await connectMock();
    setLanguage("es");
    render(ExpertsPanel);
    expect(screen.getByTestId("experts-status").textContent).toBe("Buscando…");
    await advance(300);
    expect(screen.getByRole("heading", { name: "Favoritos" })).toBeTruthy();
    expect(screen.getByTestId("experts-status").textContent).toBe("2 favoritos");
  });

  it("toggles a favourite, and an expert taken off the favourites stays until the next search", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    await advance(300);
    await search("Lukas");
    const star = screen.getByRole("button", { name: "Favourite: Lukas Brandt" });
    expect(star.getAttribute("aria-pressed")).toBe("false");
    await fireEvent.click(star);
    await advance(300);
    expect(h.sent).toContainEqual({ cmd: "favourite", expert: "e-2", on: true });
    expect(screen.getByRole("button", { name: "Favourite: Lukas Brandt" }).getAttribute("aria-pressed")).toBe("true");

    await search("");
    expect(names()).toEqual(["Amara Okafor", "Lukas Brandt", "Sofía Herrera"]);
    await fireEvent.click(screen.getByRole("button", { name: "Favourite: Amara Okafor" }));
    await advance(300);
    expect(names()).toContain("Amara Okafor");
    expect(screen.getByRole("button", { name: "Favourite: Amara Okafor" }).getAttribute("aria-pressed")).toBe("false");
  });

  it("Conference asks the agent to join everyone when the expert answers", async () => {
    h = await connectMock();
    const call = h.mock.ring();
    await h.mock.command({ cmd: "answer", call });
    render(ExpertsPanel);
    await advance(300);
    await fireEvent.click(screen.getByRole("button", { name: "Conference with Amara Okafor" }));
    await advance(2500);
    expect(h.sent.at(-1)).toEqual({ cmd: "transfer", to: "+442079460100", mode: "conference", call });
    expect(agent.view.calls[call]?.transfer?.phase).toBe("conference");
  });

  it("asks to sign in when Microsoft 365 is signed out", async () => {
    h = await connectMock();
    await h.mock.command({ cmd: "sign_out" });
    render(ExpertsPanel);
    await advance();
    const box = screen.getByTestId("experts-signin");
    expect(within(box).getByRole("status").textContent?.trim()).toBe(
      "Sign in to Microsoft 365 to see experts and their Teams presence.",
    );
    expect(screen.queryByTestId("expert-search")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(h.sent.at(-1)).toEqual({ cmd: "sign_in" });
    await advance();
    expect(within(box).getByRole("status").textContent?.trim()).toBe("Finish signing in in your browser…");
    expect(screen.queryByRole("button", { name: "Sign in" })).toBeNull();
    await advance(1600);
    expect(screen.getByTestId("expert-search")).toBeTruthy();
    await advance(300);
    expect(names()).toEqual(["Amara Okafor", "Sofía Herrera"]);
  });

  it("says why sign-in failed and offers to sign in again, in English and Spanish", async () => {
    h = await connectMock();
    h.mock.emit({ event: "account", account: { state: "failed", reason: "AADSTS50058: session expired" } });
    render(ExpertsPanel);
    await advance();
    expect(within(screen.getByTestId("experts-signin")).getByRole("status").textContent?.trim()).toBe(
      "Microsoft 365 sign-in failed: AADSTS50058: session expired",
    );
    await fireEvent.click(screen.getByRole("button", { name: "Sign in again" }));
    expect(h.sent.at(-1)).toEqual({ cmd: "sign_in" });

    h.mock.emit({ event: "account", account: { state: "failed", reason: "AADSTS50058" } });
    setLanguage("es");
    await advance();
    expect(within(screen.getByTestId("experts-signin")).getByRole("status").textContent?.trim()).toBe(
      "No se pudo iniciar sesión en Microsoft 365: AADSTS50058",
    );
    expect(screen.getByRole("button", { name: "Volver a iniciar sesión" })).toBeTruthy();
  });

  it("says Teams presence is paused while Graph throttles, and still searches", async () => {
    h = await connectMock();
    h.mock.emit({ event: "account", account: { state: "throttled", retry_after_s: 30 } });
    render(ExpertsPanel);
    await advance(300);
    expect(screen.getByText("Teams presence is paused for 30 s; it resumes by itself.")).toBeTruthy();
    expect(names()).toEqual(["Amara Okafor", "Sofía Herrera"]);
  });

  it("stops the busy state and says why when a search fails", async () => {
    h = await connectMock();
    render(ExpertsPanel);
    await advance(300);
    void agent.send({ cmd: "experts", query: "billing" });
    await Promise.resolve();
    h.mock.emit({ event: "error", code: "microsoft365", message: "Graph is unavailable (503)" });
    await advance();
    expect(screen.getByTestId("experts-list").getAttribute("aria-busy")).toBe("false");
    expect(screen.getByTestId("experts-error").textContent).toBe("The search failed: Graph is unavailable (503)");
    expect(screen.getByTestId("experts-status").textContent).toBe("The search failed: Graph is unavailable (503)");
    expect(screen.queryByText("No experts match.")).toBeNull();
  });
});
