import { fireEvent, render, screen } from "@testing-library/svelte";
import SystemCheck from "./SystemCheck.svelte";
import { useBackend } from "../lib/backend";
import { mockBackend } from "../lib/backend/mock";
import { setLanguage } from "../lib/i18n/index.svelte";

describe("SystemCheck", () => {
  beforeEach(() => setLanguage("en"));

  it("shows the version and a usable keyring from the backend", async () => {
    useBackend(mockBackend());
    render(SystemCheck);
    await fireEvent.click(screen.getByTestId("check-system"));
    expect(await screen.findByTestId("app-version")).toHaveProperty("textContent", "0.0.0-mock");
    expect(screen.getByTestId("keyring-status").textContent).toContain("OS keyring ready");
  });

  it("says so when the keyring is unavailable", async () => {
    useBackend(mockBackend({ keyringDown: true }));
    render(SystemCheck);
    await fireEvent.click(screen.getByTestId("check-system"));
    const status = await screen.findByTestId("keyring-status");
    expect(status.textContent).toContain("OS keyring unavailable");
    expect(status.className).toContain("fail");
  });

  it("shows a backend error as an alert", async () => {
    useBackend({
      ...mockBackend(),
      appInfo: async () => ({ status: "error", error: { code: "internal", message: "boom" } }),
    });
    render(SystemCheck);
    await fireEvent.click(screen.getByTestId("check-system"));
    expect((await screen.findByRole("alert")).textContent).toContain("boom");
  });
});
