//! A customer whose CRM record is markup: the window shows it as text and
//! runs none of it (tests/desktop/hostile-scenario.toml).

use crate::desk::{Desk, PATIENCE};

const NAME: &str = "<img src=x onerror=\"window.__warmline_pwned='name'\"> Eve";
const FIELD_LABEL: &str = "<img src=y onerror=\"window.__warmline_pwned='label'\">";
const FIELD_VALUE: &str = "<script>window.__warmline_pwned='field'</script>";
const PLAN: &str = "<img src=z onerror=\"window.__warmline_pwned='plan'\">";
const SUMMARY: &str = "<img src=w onerror=\"window.__warmline_pwned='summary'\">";

/// What the page would show if any of the markup had become elements or run.
const DOM_CHECK: &str = "return { \
    pwned: window.__warmline_pwned === undefined ? null : String(window.__warmline_pwned), \
    imgs: [...document.querySelectorAll('img')].map(i => i.getAttribute('src')).filter(s => s !== '/icon.svg'), \
    scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('pwned')).length, \
    bold: document.querySelectorAll('b').length };";

fn assert_inert(desk: &Desk, when: &str) {
    let v = desk.js(DOM_CHECK);
    assert!(v["pwned"].is_null(), "{when}: the customer's markup ran: window.__warmline_pwned = {}", v["pwned"]);
    assert_eq!(v["imgs"], serde_json::json!([]), "{when}: the customer's <img> became elements");
    assert_eq!(v["scripts"], 0, "{when}: the customer's <script> became an element");
    assert_eq!(v["bold"], 0, "{when}: the customer's <b> became an element");
}

#[test]
fn a_customer_record_full_of_markup_shows_as_text_and_runs_nothing() {
    let desk = Desk::launch("hostile", "hostile-scenario.toml");
    desk.wait_for("the window", "[data-testid=\"sign-in\"], [data-testid=\"sign-out\"]");
    desk.open_settings_in("en");
    desk.close_dialog();
    desk.sign_in("Jordan Lee");
    desk.choose_state("available");

    let ringing = desk.wait_text("the hostile caller to ring", "[data-testid=\"incoming-name\"]", |t| !t.is_empty());
    assert_eq!(ringing, NAME, "the caller's name is shown literally while ringing");
    assert_inert(&desk, "ringing");
    desk.click("answer");
    desk.wait_for("the call to connect", "[data-testid=\"call-card\"].state-connected");

    let shown = desk.wait_text("the screen pop", "[data-testid=\"context-name\"]", |t| t == NAME);
    assert_eq!(shown, NAME);
    let card = desk.text_now("[data-testid=\"call-name\"]").unwrap_or_default();
    assert_eq!(card, NAME, "the call card shows the name literally");
    let context = desk.wait("the CRM fields and interaction", PATIENCE, |_| {
        desk.text_now("[data-testid=\"context\"]").filter(|t| t.contains(SUMMARY))
    });
    for literal in [FIELD_LABEL, FIELD_VALUE, PLAN, SUMMARY, "NW-<b>666</b>", "<b>phone</b>"] {
        assert!(context.contains(literal), "the screen pop shows {literal} as text:\n{context}");
    }
    assert_inert(&desk, "connected");

    // Typed markup in the notes, then wrap-up, which names the caller too.
    let notes = desk.app.by_test_id("notes").expect("notes");
    desk.app.click(&notes).expect("focus the notes");
    desk.app.send_keys(&notes, "<img src=n onerror=\"window.__warmline_pwned='typed'\">").expect("type");
    desk.wait_text("the note to be saved", "[data-testid=\"note-sync\"]", crate::desk::note_saved);
    desk.shot("connected");
    desk.click("hangup");
    let wrap = desk.wait_text("wrap-up for the caller", "[data-testid=\"wrapup\"]", |t| t.contains(NAME));
    assert!(wrap.contains(NAME));
    assert_inert(&desk, "wrap-up");
    desk.shot("wrapup");
}
