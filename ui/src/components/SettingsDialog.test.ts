import { fireEvent, render, screen } from "@testing-library/svelte";
import SettingsDialog from "./SettingsDialog.svelte";
import { agent } from "../lib/agent.svelte";
import { setLanguage } from "../lib/i18n/index.svelte";
import { advance, connectMock, teardown, type Harness } from "../test/helpers";

const input = (label: string | RegExp) => screen.getByLabelText(label) as HTMLInputElement;

async function type(label: string | RegExp, value: string): Promise<void> {
  await fireEvent.input(input(label), { target: { value } });
}

async function fillValid(): Promise<void> {
  await type("SBC WebSocket URLs", "wss://sbc1.contoso.example:443\n\n wss://sbc2.contoso.example:443 ");
  await type("SIP address", "sip:agent1001@contoso.example");
  await type("Authorization user", "agent1001");
  await type("SIP password", "s3cret-pass");
}

describe("SettingsDialog: connection", () => {
  let h: Harness | undefined;
  afterEach(() => {
    teardown(h);
    setLanguage("en");
  });

  it("reads the connection when it opens and explains the lab", async () => {
    h = await connectMock();
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    expect(h.sent).toContainEqual({ cmd: "connection" });
    expect(screen.getByTestId("conn-file").textContent).toBe("~/.config/warmline/warmline.toml");
    expect(screen.getByTestId("conn-lab").textContent).toContain("switches Warmline from the lab to your company's SBC");
    expect(input("SBC WebSocket URLs").value).toBe("");
    expect(input("SIP address").value).toBe("");
    expect(input("SIP address").readOnly).toBe(false);
    for (const label of ["Display name (optional)", "Outbound proxy (optional)", /Microsoft 365 tenant/, "Microsoft 365 client ID"])
      expect(input(label).tagName).toBe("INPUT");
    const password = input("SIP password");
    expect(password.type).toBe("password");
    expect(password.autocomplete).toBe("new-password");
    expect(password.placeholder).toBe("Unchanged");
    expect(password.value).toBe("");
    expect(screen.getByTestId("conn-save").textContent).toContain("Save connection");
  });

  it("saves valid settings, says where and offers to restart", async () => {
    h = await connectMock();
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    await fillValid();
    await type("Display name (optional)", "Dana Whitfield");
    await fireEvent.click(screen.getByTestId("conn-save"));
    await advance();
    expect(h.sent).toContainEqual({
      cmd: "configure",
      settings: {
        servers: ["wss://sbc1.contoso.example:443", "wss://sbc2.contoso.example:443"],
        user: "sip:agent1001@contoso.example",
        auth_user: "agent1001",
        display_name: "Dana Whitfield",
        outbound_proxy: null,
        tenant: null,
        client_id: null,
      },
      password: "s3cret-pass",
    });
    expect(screen.getByTestId("conn-status").textContent?.trim()).toBe(
      "Saved to ~/.config/warmline/warmline.toml. Restart Warmline to connect with these settings.",
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(agent.view.toasts).toEqual([]);
    // The form shows what was saved; the password is not kept in it.
    expect(input("SBC WebSocket URLs").value).toBe("wss://sbc1.contoso.example:443\nwss://sbc2.contoso.example:443");
    expect(input("SIP password").value).toBe("");

    const restart = screen.getByRole("button", { name: "Restart now" });
    expect(h.mock.restarts).toBe(0);
    await fireEvent.click(restart);
    await advance();
    expect(h.mock.restarts).toBe(1);
  });

  it("keeps the current password when the field is left empty", async () => {
    h = await connectMock();
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    await fillValid();
    await type("SIP password", "");
    await fireEvent.click(screen.getByTestId("conn-save"));
    await advance();
    expect(h.sent.find((c) => c.cmd === "configure")).toMatchObject({ password: null });
    expect(screen.getByRole("button", { name: "Restart now" })).toBeTruthy();
  });

  it("shows the agent's error next to the form and marks the field", async () => {
    h = await connectMock();
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    await fillValid();
    await type("SBC WebSocket URLs", "http://sbc.example.com");
    await fireEvent.click(screen.getByTestId("conn-save"));
    await advance();
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Not saved:");
    expect(alert.textContent).toContain("sip.servers");
    const servers = input("SBC WebSocket URLs");
    expect(servers.getAttribute("aria-invalid")).toBe("true");
    expect(servers.getAttribute("aria-describedby")).toContain("conn-error");
    expect(document.activeElement).toBe(servers);
    expect(screen.queryByRole("button", { name: "Restart now" })).toBeNull();
    expect(screen.getByTestId("conn-status").textContent?.trim()).toBe("");
    // Shown in the form, not as a toast as well; what was typed stays.
    expect(agent.view.toasts).toEqual([]);
    expect(servers.value).toBe("http://sbc.example.com");

    // A tenant without a client id names Microsoft 365.
    await type("SBC WebSocket URLs", "wss://sbc.example.com");
    await type(/Microsoft 365 tenant/, "contoso.onmicrosoft.com");
    await fireEvent.click(screen.getByTestId("conn-save"));
    await advance();
    expect(screen.getByRole("alert").textContent).toContain("microsoft365");
    expect(input(/Microsoft 365 tenant/).getAttribute("aria-invalid")).toBe("true");
    expect(servers.getAttribute("aria-invalid")).toBeNull();
  });

  it("is read-only when the administrator locked the connection", async () => {
    h = await connectMock({ sipLocked: true });
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    expect(screen.getByTestId("conn-locked").textContent).toContain("Your administrator set the connection settings");
    expect(screen.queryByTestId("conn-lab")).toBeNull();
    expect(input("SBC WebSocket URLs").value).toBe("wss://sbc1.contoso.example:443\nwss://sbc2.contoso.example:443");
    for (const label of ["SBC WebSocket URLs", "SIP address", "Authorization user", "Display name (optional)", /Microsoft 365 tenant/])
      expect(input(label).readOnly, String(label)).toBe(true);
    const password = input("SIP password");
    expect(password.disabled).toBe(true);
    expect(password.value).toBe("");
    expect(screen.queryByTestId("conn-save")).toBeNull();
    // Submitting anyway (Enter in a field) sends nothing.
    await fireEvent.submit(screen.getByTestId("connection-form"));
    await advance();
    expect(h.sent.some((c) => c.cmd === "configure")).toBe(false);
  });

  it("never puts a password in the form, also after reopening", async () => {
    h = await connectMock();
    const first = render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    await fillValid();
    await fireEvent.click(screen.getByTestId("conn-save"));
    await advance();
    first.unmount();
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    expect(input("SIP password").value).toBe("");
    expect(input("SIP address").value).toBe("sip:agent1001@contoso.example");
    // Reading the settings again forgets the earlier save's notice.
    expect(screen.getByTestId("conn-status").textContent?.trim()).toBe("");
    expect(document.body.innerHTML).not.toContain("s3cret-pass");
  });

  it("speaks Spanish", async () => {
    h = await connectMock();
    setLanguage("es");
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    expect(screen.getByTestId("conn-lab").textContent).toContain("pasará del laboratorio al SBC de su empresa");
    expect(input("Contraseña SIP").placeholder).toBe("Sin cambios");
    await type("URL WebSocket del SBC", "wss://sbc.contoso.example");
    await type("Dirección SIP", "sip:agent1001@contoso.example");
    await type("Usuario de autorización", "agent1001");
    await fireEvent.click(screen.getByRole("button", { name: "Guardar conexión" }));
    await advance();
    expect(screen.getByTestId("conn-status").textContent?.trim()).toBe(
      "Guardado en ~/.config/warmline/warmline.toml. Reinicie Warmline para conectarse con esta configuración.",
    );
    expect(screen.getByRole("button", { name: "Reiniciar ahora" })).toBeTruthy();
    await type("URL WebSocket del SBC", "ws://sbc.contoso.example");
    await fireEvent.click(screen.getByRole("button", { name: "Guardar conexión" }));
    await advance();
    expect(screen.getByRole("alert").textContent).toContain("No se guardó:");
  });
});

describe("SettingsDialog: audio devices", () => {
  let h: Harness | undefined;
  afterEach(() => {
    teardown(h);
    setLanguage("en");
  });

  it("names the system default in the agent's language", async () => {
    h = await connectMock();
    setLanguage("es");
    render(SettingsDialog, { onclose: () => {} });
    await advance(300);
    const mic = screen.getByLabelText("Micrófono") as HTMLSelectElement;
    const first = mic.options[0];
    expect(first?.value).toBe("default");
    expect(first?.textContent).toBe("Predeterminado del sistema");
  });
});
