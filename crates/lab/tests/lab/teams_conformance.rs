//! The Teams crate's Entra/Graph contract, run against the lab's stand-ins.

use url::Url;
use warmline_lab::faults::{GraphFault, GraphFaultRule};
use warmline_lab::scenario::ConsentMode;
use warmline_lab::{Clock, Control, Lab};
use warmline_teams::TeamsConfig;
use warmline_teams::conformance::{self, Fault, Faults, Target, Verdict};

/// Arms the lab's fault injection for the suite.
struct LabFaults(Control);

impl Faults for LabFaults {
    fn arm(&self, fault: Fault) -> bool {
        let fault = match fault {
            Fault::Throttle => GraphFault::Throttle { retry_after: 2.128 },
            Fault::Forbid => GraphFault::MissingConsent,
            _ => return false,
        };
        self.0.inject_graph_fault(GraphFaultRule::once(fault));
        true
    }
}

pub fn teams_config(lab: &Lab) -> TeamsConfig {
    let e = lab.endpoints();
    TeamsConfig {
        authority: Url::parse(&e.entra_authority).expect("authority URL"),
        tenant: e.entra_tenant.clone(),
        client_id: e.entra_client_id.clone(),
        graph: Url::parse(&e.graph_base).expect("graph URL"),
        ..TeamsConfig::default()
    }
}

fn target(lab: &Lab) -> Target {
    Target {
        config: teams_config(lab),
        user_ids: lab.control().experts().into_iter().map(|e| e.id).collect(),
        search: "pri".into(),
    }
}

#[tokio::test]
async fn the_lab_meets_the_teams_contract_with_every_check_run() {
    // The system clock and the default scenario's churn: the lab as `make run` starts it.
    let lab = crate::support::lab_with(ConsentMode::Auto, Clock::system()).await;
    let faults = LabFaults(lab.control());
    let report = conformance::run(&target(&lab), Some(&faults)).await.expect("the suite runs");
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() >= 14, "{report}");
    assert!(report.checks.iter().all(|(_, v)| *v == Verdict::Pass), "nothing skipped: {report}");
}

#[tokio::test]
async fn a_consent_page_is_not_what_the_suite_expects_from_a_headless_authorize() {
    // With the page (the default scenario's mode), /authorize answers 200 with
    // a form a person must click, so the suite's redirect check fails: the
    // stand-in does not cut the corner silently.
    let lab = crate::support::lab_with(ConsentMode::Page, Clock::system()).await;
    let report = conformance::run(&target(&lab), None).await.expect("the suite runs");
    assert!(matches!(report.verdict("authorize.redirects_with_code_and_state"), Some(Verdict::Fail(_))), "{report}");
    assert_eq!(report.verdict("token.device_code_pending"), Some(&Verdict::Pass), "{report}");
}
