use super::*;
use crate::presence::{Activity, Availability};

const MINIMAL: &str = r#"
seed = 7
[tenant]
domain = "contoso.example.com"
[[queues]]
name = "billing"
[[agents]]
name = "Jo Bloggs"
upn = "jo@contoso.example.com"
extension = "1001"
queues = ["billing"]
"#;

fn error(text: &str) -> (usize, usize, String, String) {
    match Scenario::from_toml(text, Some(Path::new("s.toml"))) {
        Err(ScenarioError::Invalid { line, column, field, message, .. }) => (line, column, field, message),
        other => panic!("expected an invalid scenario, got {other:?}"),
    }
}

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

#[test]
fn the_default_scenario_is_valid_and_realistic() {
    let s = Scenario::default_scenario();
    assert_eq!(s.tenant.domain, "northwind.example.com");
    assert!(s.queues.len() >= 3, "a few queues");
    assert_eq!(s.experts.len(), 8);
    assert!(s.customers.len() >= 20);
    assert!(s.customers.iter().all(|c| c.phones.iter().all(|p| is_e164(p))));
    assert!(s.experts.iter().any(|e| !e.churn && e.presence == Presence::AVAILABLE), "someone to transfer to");
    for answer in [Answer::Decline, Answer::Busy, Answer::Never] {
        assert!(s.experts.iter().any(|e| e.answer == answer), "an expert who {answer}");
    }
    assert!(s.arrivals.per_hour > 0.0);
    assert!(s.base_dir.as_ref().is_some_and(|d| d.ends_with("assets/lab")));
    let ids: HashSet<&str> = s.experts.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), s.experts.len(), "distinct object ids");
}

#[test]
fn defaults_fill_what_a_minimal_file_leaves_out() {
    let s = Scenario::from_toml(MINIMAL, None).expect("valid");
    assert_eq!(s.name, "contoso.example.com");
    assert_eq!(s.entra.consent, ConsentMode::Page);
    assert_eq!(s.entra.access_token_lifetime_secs, 3599);
    assert!(is_guid(&s.tenant.id) && is_guid(&s.tenant.client_id) && is_guid(&s.agents[0].id));
    assert_eq!(s.agents[0].id, derived_guid("user", "jo@contoso.example.com"), "stable across runs");
    assert_eq!(s.presence_churn, ChurnConfig::default());
    assert_eq!(s.arrivals.per_hour, 0.0);
}

#[test]
fn experts_parse_every_answer_and_audio_form() {
    let s = Scenario::from_toml(
        &with(
            r#"
[[experts]]
name = "Ann Lee"
upn = "ann@contoso.example.com"
presence = { availability = "Busy", activity = "InACall" }
answer = { after_secs = 2.5 }
audio = "silence"
[[experts]]
name = "Bob"
upn = "bob@contoso.example.com"
answer = "never"
audio = { tone_hz = 523 }
churn = false
"#,
        ),
        None,
    )
    .expect("valid");
    let (ann, bob) = (&s.experts[0], &s.experts[1]);
    assert_eq!((ann.given_name.as_str(), ann.surname.as_str()), ("Ann", "Lee"));
    assert_eq!(ann.mail, "ann@contoso.example.com");
    assert_eq!(ann.presence, Presence { availability: Availability::Busy, activity: Activity::InACall });
    assert_eq!(ann.answer, Answer::AfterSecs(2.5));
    assert_eq!(ann.audio, Audio::Silence);
    assert_eq!((bob.answer, bob.audio.clone(), bob.churn), (Answer::Never, Audio::ToneHz(523.0), false));
}

#[test]
fn a_bad_phone_number_names_its_line_and_field() {
    let text = with(
        r#"
[[customers]]
id = "C-1"
name = "Ada"
phones = ["+442079460018"]
[[customers]]
id = "C-2"
name = "Bea"
phones = ["+44 20", "+442079460019"]
"#,
    );
    let (line, column, field, message) = error(&text);
    assert_eq!(field, "customers[1].phones[0]");
    assert_eq!(line, text.lines().position(|l| l.contains("+44 20")).expect("line") + 1);
    assert_eq!(column, 11);
    assert!(message.contains("E.164"), "{message}");
}

#[test]
fn a_typo_in_a_key_is_refused_with_its_place() {
    let text = with("[[experts]]\nname = \"Ann\"\nupn = \"ann@contoso.example.com\"\nanswr = \"never\"\n");
    let (line, _, field, message) = error(&text);
    assert_eq!(line, text.lines().count());
    assert_eq!(field, "experts[0].answr");
    assert!(message.contains("unknown field `answr`"), "{message}");
}

#[test]
fn an_unknown_presence_value_is_refused() {
    let text = with(
        "[[experts]]\nname = \"Ann\"\nupn = \"ann@contoso.example.com\"\npresence = { availability = \"Avaliable\", activity = \"Available\" }\n",
    );
    let (_, _, field, message) = error(&text);
    assert_eq!(field, "experts[0].presence");
    assert!(message.contains("Avaliable") && message.contains("Available"), "{message}");
}

#[test]
fn semantic_mistakes_are_refused_with_the_field() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "[[agents]]\nname = \"X\"\nupn = \"x@other.example.com\"\nextension = \"2\"\n",
            "agents[1].upn",
            "tenant's domain",
        ),
        (
            "[[agents]]\nname = \"X\"\nupn = \"JO@contoso.example.com\"\nextension = \"2\"\n",
            "agents[1].upn",
            "used by another",
        ),
        (
            "[[agents]]\nname = \"X\"\nupn = \"x@contoso.example.com\"\nextension = \"2\"\nqueues = [\"sales\"]\n",
            "agents[1].queues[0]",
            "no queue named \"sales\"",
        ),
        ("[[experts]]\nname = \"E\"\nupn = \"e@contoso.example.com\"\nid = \"nope\"\n", "experts[0].id", "GUID"),
        (
            "[[experts]]\nname = \"E\"\nupn = \"e@contoso.example.com\"\naudio = { wav = \"missing.wav\" }\n",
            "experts[0].audio",
            "no WAV file",
        ),
        ("[presence_churn]\nmean_interval_secs = 0\n", "presence_churn.mean_interval_secs", "at least 1 second"),
        ("[arrivals]\nper_hour = -1\n", "arrivals.per_hour", ">= 0"),
    ];
    for (extra, field, words) in cases {
        let (_, _, got_field, message) = error(&with(extra));
        assert_eq!(got_field, field, "{extra}");
        assert!(message.contains(words), "{extra}: {message}");
    }
}

#[test]
fn errors_display_as_file_line_column_field_message() {
    let e =
        Scenario::from_toml(&with("[arrivals]\nper_hour = -1\n"), Some(Path::new("lab/s.toml"))).expect_err("invalid");
    let text = e.to_string();
    assert!(text.starts_with("lab/s.toml:"), "{text}");
    assert!(text.contains(": arrivals.per_hour: must be a number >= 0"), "{text}");
}

#[test]
fn a_missing_file_says_which() {
    let e = Scenario::load(Path::new("/nonexistent/lab.toml")).expect_err("missing");
    assert!(e.to_string().starts_with("/nonexistent/lab.toml: "), "{e}");
}
