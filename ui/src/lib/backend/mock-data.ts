// Sample people for the mock contact center. Times are relative to a fixed
// day so screenshots and tests do not change from run to run.
import type {
  CustomerContext_Deserialize as CustomerContext,
  Expert_Deserialize as Expert,
  HistoryEntry_Deserialize as HistoryEntry,
} from "../bindings";

export interface SampleCustomer {
  phone: string;
  displayName: string | null;
  queue: string;
  case: string | null;
  unknown?: boolean;
  context: CustomerContext;
}

const DAY = Date.UTC(2026, 10, 23, 9, 0);
const hours = (h: number) => DAY - h * 3600_000;

export const customers: SampleCustomer[] = [
  {
    phone: "+442079460321",
    displayName: "Priya Raman",
    queue: "Billing",
    case: "CS-40213",
    context: {
      phone: "+442079460321",
      name: "Priya Raman",
      crm_id: "ACC-88213",
      loading: false,
      source: "crm",
      fields: [
        { label: "Account", value: "ACC-88213 · Business Plus" },
        { label: "Customer since", value: "March 2019" },
        { label: "Open balance", value: "£142.60 (due 30 Nov)" },
        { label: "Preferred language", value: "English" },
        { label: "Last agent", value: "Marcus Lee" },
      ],
      interactions: [
        { at_ms: hours(26), channel: "Phone", summary: "Asked about a duplicate charge on the October invoice" },
        { at_ms: hours(27), channel: "E-mail", summary: "Sent a copy of invoice INV-2211" },
        { at_ms: hours(24 * 20), channel: "Chat", summary: "Upgraded to Business Plus" },
      ],
      notes: [
        {
          note: "past-1",
          at_ms: hours(26),
          text: "Duplicate charge confirmed by finance; refund promised within 5 working days. Call back if not received.",
        },
      ],
      queue: "Billing",
      case: "CS-40213",
    },
  },
  {
    phone: "+34911234567",
    displayName: "Javier Ortega",
    queue: "Soporte técnico",
    case: null,
    context: {
      phone: "+34911234567",
      name: "Javier Ortega Muñoz",
      crm_id: "ACC-10442",
      loading: false,
      source: "crm",
      fields: [
        { label: "Account", value: "ACC-10442 · Home Fibre 600" },
        { label: "Router", value: "Nokia G-2425G-A" },
        { label: "Preferred language", value: "Spanish" },
      ],
      interactions: [{ at_ms: hours(72), channel: "Phone", summary: "Intermittent drops in the evening" }],
      notes: [{ note: "past-2", at_ms: hours(72), text: "Line test clean. Replaced router power supply by courier." }],
      queue: "Soporte técnico",
      case: null,
    },
  },
  {
    phone: "+15550142",
    displayName: null,
    queue: "Sales",
    case: null,
    unknown: true,
    context: {
      phone: "+15550142",
      name: null,
      crm_id: null,
      loading: false,
      source: "unknown",
      fields: [],
      interactions: [],
      notes: [],
      queue: "Sales",
      case: null,
    },
  },
];

/** Markup in every outside string: it must show as text, never run. */
export const hostileCustomer: SampleCustomer = {
  phone: "+441632960999",
  displayName: "<img src=x onerror=alert(1)>",
  queue: "<b>Billing</b>",
  case: "<script>alert('case')</script>",
  context: {
    phone: "+441632960999",
    name: "<img src=x onerror=alert(1)>",
    crm_id: "ACC-<i>1</i>",
    loading: false,
    source: "crm",
    fields: [
      { label: "Account", value: "<script>alert(1)</script>" },
      { label: "<img src=x onerror=alert(2)>", value: "javascript:alert(3)" },
    ],
    interactions: [{ at_ms: hours(5), channel: "<svg onload=alert(4)>", summary: "<a href=javascript:alert(5)>click</a>" }],
    notes: [{ note: "past-x", at_ms: hours(5), text: "<iframe src=javascript:alert(6)></iframe>" }],
    queue: "<b>Billing</b>",
    case: "<script>alert('case')</script>",
  },
};

export const experts: Expert[] = [
  {
    id: "e-1",
    name: "Amara Okafor",
    title: "Senior billing specialist",
    department: "Finance",
    skills: ["Refunds", "Invoices", "VAT"],
    favourite: true,
    availability: "Available",
    activity: "Available",
    presence_age_s: 12,
    dial: "+442079460100",
  },
  {
    id: "e-2",
    name: "Lukas Brandt",
    title: "Network engineer",
    department: "Technical support",
    skills: ["Fibre", "Routers", "Outages"],
    favourite: false,
    availability: "Busy",
    activity: "InACall",
    presence_age_s: 40,
    dial: "+442079460101",
  },
  {
    id: "e-3",
    name: "Sofía Herrera",
    title: "Retention lead",
    department: "Customer success",
    skills: ["Retention", "Español", "Contracts"],
    favourite: true,
    availability: "Away",
    activity: "Away",
    presence_age_s: 300,
    dial: "+442079460102",
  },
  {
    id: "e-4",
    name: "Chen Wei",
    title: "Escalations manager",
    department: "Customer success",
    skills: ["Complaints", "Escalations"],
    favourite: false,
    availability: "DoNotDisturb",
    activity: "Presenting",
    presence_age_s: 5,
    dial: "+442079460103",
  },
  {
    id: "e-5",
    name: "Noah Fischer",
    title: "Sales advisor",
    department: "Sales",
    skills: ["Upgrades", "Business plans"],
    favourite: false,
    availability: "BeRightBack",
    activity: "BeRightBack",
    presence_age_s: 90,
    dial: "+442079460104",
  },
  {
    id: "e-6",
    name: "Grace Liu",
    title: "Compliance officer",
    department: "Legal",
    skills: ["GDPR", "Complaints"],
    favourite: false,
    availability: "Offline",
    activity: "OffWork",
    presence_age_s: 3600,
    dial: null,
  },
  {
    id: "e-7",
    name: "Mateo Silva",
    title: "Billing specialist",
    department: "Finance",
    skills: ["Refunds", "Payment plans"],
    favourite: false,
    availability: "AvailableIdle",
    activity: "Available",
    presence_age_s: 600,
    dial: "+442079460106",
  },
];

export const sampleHistory: HistoryEntry[] = [
  {
    call: "h-1",
    direction: "inbound",
    party: "+442079460321",
    name: "Priya Raman",
    queue: "Billing",
    case: "CS-40213",
    consult_for: null,
    started_ms: hours(26),
    duration_s: 412,
    disposition: "callback",
    transferred_to: null,
    notes: "Duplicate charge confirmed by finance; refund promised within 5 working days.",
  },
  {
    // A warm transfer's consult call, newer than the customer's call it was
    // made for (the agent lists calls newest first).
    call: "h-6",
    direction: "outbound",
    party: "+442079460100",
    name: null,
    queue: null,
    case: null,
    consult_for: "h-5",
    started_ms: hours(27) + 4 * 60_000,
    duration_s: 95,
    disposition: null,
    transferred_to: null,
    notes: "",
  },
  {
    call: "h-5",
    direction: "inbound",
    party: "+442079460458",
    name: "Hannah Clarke",
    queue: "Billing",
    case: "CS-40177",
    consult_for: null,
    started_ms: hours(27),
    duration_s: 388,
    disposition: "resolved",
    // Warm-transferred to Amara Okafor after the consult above.
    transferred_to: "sip:+442079460100@sbc.contoso.example;user=phone",
    notes: "VAT invoice reissued; handed to billing specialist for the credit note.",
  },
  {
    call: "h-2",
    direction: "outbound",
    party: "+34911234567",
    name: "Javier Ortega Muñoz",
    queue: null,
    case: null,
    consult_for: null,
    started_ms: hours(28),
    duration_s: 185,
    disposition: "resolved",
    transferred_to: null,
    notes: "Called back: router replaced, line stable.",
  },
  {
    call: "h-3",
    direction: "inbound",
    party: "+15550199",
    name: null,
    queue: "Sales",
    case: null,
    consult_for: null,
    started_ms: hours(30),
    duration_s: 0,
    disposition: null,
    transferred_to: null,
    notes: "",
  },
  {
    call: "h-4",
    direction: "inbound",
    party: "+442079460777",
    name: "Oliver Grant",
    queue: "Technical support",
    case: "CS-39871",
    consult_for: null,
    started_ms: hours(31),
    duration_s: 903,
    disposition: "escalated",
    // As the agent records it: the SIP URI the transfer dialled (Lukas Brandt's).
    transferred_to: "sip:+442079460101@sbc.contoso.example;user=phone",
    notes: "Outage in postcode area SW1; escalated to network team.",
  },
];
