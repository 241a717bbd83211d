import { formatPhone, humanizeFieldName, partyKey, partyName, phoneDigits, uriParts } from "./format";

describe("SIP URIs and phone numbers for people", () => {
  it("takes a URI apart", () => {
    expect(uriParts("sip:+442079460101@sbc.contoso.example;user=phone")).toEqual({ user: "+442079460101", host: "sbc.contoso.example" });
    expect(uriParts("sips:alice@contoso.com:5061;transport=tls")).toEqual({ user: "alice", host: "contoso.com" });
    expect(uriParts('"Alice" <sip:alice@contoso.com>;tag=1')).toEqual({ user: "alice", host: "contoso.com" });
    expect(uriParts("tel:+15550123456;ext=12")).toEqual({ user: "+15550123456", host: null });
    expect(uriParts("+34911234567")).toEqual({ user: "+34911234567", host: null });
    expect(uriParts("sip:bob@host?Subject=x")).toEqual({ user: "bob", host: "host" });
  });

  it("recognises phone numbers", () => {
    expect(phoneDigits("+44 20 7946-0101")).toBe("+442079460101");
    expect(phoneDigits("1234")).toBe("1234");
    expect(phoneDigits("alice")).toBeNull();
    expect(phoneDigits("+")).toBeNull();
  });

  it("formats numbers", () => {
    expect(formatPhone("+15550123456")).toBe("+1 555-012-3456");
    expect(formatPhone("+442079460101")).toBe("+44 2079460101");
    expect(formatPhone("+34911234567")).toBe("+34 911234567");
    expect(formatPhone("+353861234567")).toBe("+353 861234567");
    expect(formatPhone("+15550142")).toBe("+1 5550142");
    expect(formatPhone("2001")).toBe("2001");
    expect(formatPhone("alice")).toBe("alice");
  });

  it("compares a number across hosts and spellings, and addresses without case", () => {
    expect(partyKey("sip:+442079460101@sbc.example;user=phone")).toBe(partyKey("+44 20 7946 0101"));
    expect(partyKey("sip:Alice@Contoso.com")).toBe(partyKey("sip:alice@contoso.com;transport=tls"));
    expect(partyKey("sip:alice@contoso.com")).not.toBe(partyKey("sip:alice@fabrikam.com"));
  });

  it("names a party: a known person first, else the number or user part, with the whole URI kept", () => {
    const known = [
      { name: "Lukas Brandt", dial: "sip:+442079460101@sbc.example;user=phone" },
      { name: "Grace Liu", dial: null },
    ];
    expect(partyName("sip:+442079460101@other.example", known)).toEqual({
      text: "Lukas Brandt",
      full: "sip:+442079460101@other.example",
    });
    expect(partyName("sip:+15550123456@sbc.example;user=phone", known)).toEqual({
      text: "+1 555-012-3456",
      full: "sip:+15550123456@sbc.example;user=phone",
    });
    expect(partyName("sip:alice@contoso.com")).toEqual({ text: "alice", full: "sip:alice@contoso.com" });
    expect(partyName("Lukas Brandt")).toEqual({ text: "Lukas Brandt", full: "Lukas Brandt" });
  });
});

describe("CRM field names for people", () => {
  it("spells out machine names", () => {
    expect(humanizeFieldName("customer_since")).toBe("Customer since");
    expect(humanizeFieldName("openCases")).toBe("Open cases");
    expect(humanizeFieldName("account-tier")).toBe("Account tier");
    expect(humanizeFieldName("tier")).toBe("Tier");
  });

  it("keeps names written for people, and markup stays the same text", () => {
    expect(humanizeFieldName("Account manager")).toBe("Account manager");
    expect(humanizeFieldName("SLA")).toBe("SLA");
    expect(humanizeFieldName("<b>phone</b>")).toBe("<b>phone</b>");
    expect(humanizeFieldName("")).toBe("");
  });
});
