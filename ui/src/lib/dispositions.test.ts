import type { Disposition } from "./bindings";
import { dispositionLabel, humanise } from "./dispositions";
import { setLanguage } from "./i18n/index.svelte";

// The default configuration's list (crates/agent/src/config.rs, assets/warmline.example.toml).
const defaults: Disposition[] = [
  { code: "resolved", label: "Resolved" },
  { code: "follow_up", label: "Follow-up needed" },
  { code: "escalated", label: "Escalated" },
  { code: "callback", label: "Callback scheduled" },
  { code: "wrong_number", label: "Wrong number" },
];

describe("disposition labels", () => {
  afterEach(() => setLanguage("en"));

  it("translates the codes the default configuration ships", () => {
    const codes = defaults.map((d) => d.code);
    expect(codes.map((c) => dispositionLabel(c, defaults))).toEqual([
      "Resolved",
      "Follow-up needed",
      "Escalated",
      "Callback scheduled",
      "Wrong number",
    ]);
    setLanguage("es");
    expect(codes.map((c) => dispositionLabel(c, defaults))).toEqual([
      "Resuelta",
      "Requiere seguimiento",
      "Escalada",
      "Devolución de llamada programada",
      "Número equivocado",
    ]);
  });

  it("shows an administrator's own label as written, in any language", () => {
    const custom: Disposition[] = [
      { code: "resolved", label: "Fixed on first call" },
      { code: "refund_issued", label: "Reembolso emitido" },
    ];
    setLanguage("es");
    expect(dispositionLabel("resolved", custom)).toBe("Fixed on first call");
    expect(dispositionLabel("refund_issued", custom)).toBe("Reembolso emitido");
  });

  it("puts unknown codes, and labels that only repeat the code, into words", () => {
    expect(dispositionLabel("callback_requested", [])).toBe("Callback requested");
    expect(dispositionLabel("callback_requested", null)).toBe("Callback requested");
    expect(dispositionLabel("sale-closed", [{ code: "sale-closed", label: "sale-closed" }])).toBe("Sale closed");
    expect(dispositionLabel("no_answer", [{ code: "no_answer", label: "  " }])).toBe("No answer");
    // A well-known code with no label of its own is still translated.
    setLanguage("es");
    expect(dispositionLabel("escalated", [])).toBe("Escalada");
    expect(dispositionLabel("escalated", [{ code: "escalated", label: "escalated" }])).toBe("Escalada");
  });

  it("humanises codes", () => {
    expect(humanise("callback_requested")).toBe("Callback requested");
    expect(humanise("NO_ANSWER")).toBe("No answer");
    expect(humanise("sent_to_VIP")).toBe("Sent to VIP");
    expect(humanise("x")).toBe("X");
    expect(humanise("__")).toBe("__");
    // Inherited object keys are not known codes.
    expect(dispositionLabel("constructor", [])).toBe("Constructor");
  });
});
