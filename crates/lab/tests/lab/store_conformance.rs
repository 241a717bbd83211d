//! The store crate's CRM connector contract, run against the lab's CRM
//! through the REST connector Warmline uses.

use warmline_lab::scenario::ConsentMode;
use warmline_lab::{Clock, Lab};
use warmline_secrets::Secret;
use warmline_store::rest::{RestConfig, RestConnector};
use warmline_store::{CustomerKey, PhoneNormaliser, conformance};

pub fn connector(lab: &Lab, token: &str, timeout_ms: u64) -> RestConnector {
    let config = RestConfig {
        base_url: lab.endpoints().crm_base.clone(),
        country_code: 44,
        timeout_ms,
        ..RestConfig::default()
    };
    RestConnector::new(config, &Secret::from(token)).expect("connector")
}

pub fn ada() -> CustomerKey {
    CustomerKey::Phone(PhoneNormaliser::new(44).normalise("020 7946 0018").expect("valid"))
}

#[tokio::test]
async fn the_lab_crm_passes_the_connector_conformance_suite() {
    // The suite lists notes changed in the last day of this machine's
    // clock, so the lab runs on it too.
    let lab = crate::support::lab_with(ConsentMode::Auto, Clock::system()).await;
    let good = connector(&lab, lab.crm_token(), 5_000);
    let bad = connector(&lab, "not-the-token", 5_000);
    let fixture = conformance::Fixture {
        known: ada(),
        known_name: Some("Ada Lovelace".into()),
        unknown: CustomerKey::Phone(PhoneNormaliser::new(44).normalise("020 7946 0999").expect("valid")),
    };
    let report = conformance::run(&good, &fixture, Some(&bad)).await;
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() >= 10, "every check ran: {report}");
    let notes = lab.control().crm_notes().expect("notes");
    let made: Vec<_> =
        notes.iter().filter(|n| n.client_id.as_deref().is_some_and(|c| c.starts_with("conformance-"))).collect();
    assert_eq!(made.len(), 2, "two keys, two notes; the repeats made none: {made:?}");
}
