//! Scheduled arrivals on a manual clock: moving the lab's time places the
//! customer calls the seeded schedule has due, no more, no fewer.

use std::time::Duration;

use tokio::time::timeout;
use warmline_lab::arrivals::Arrivals;
use warmline_lab::customer::CustomerState;
use warmline_lab::{Clock, Lab, LabEvent, LabOptions, Scenario, sip::SipEvent};

use super::support::START_MS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advancing_the_clock_places_the_scheduled_calls() {
    let mut scenario = Scenario::default_scenario();
    scenario.arrivals.per_hour = 240.0;
    let expected = Arrivals::for_scenario(&scenario, START_MS).poll(START_MS + 60_000);
    assert!(!expected.is_empty(), "the seed gives calls in the first minute");
    let options = LabOptions { clock: Clock::manual(START_MS), ..LabOptions::default() };
    let lab = Lab::start_with(scenario.clone(), options).await.expect("the lab starts");
    let control = lab.control();
    let mut events = control.subscribe();
    control.advance(Duration::from_secs(30)).expect("manual clock");
    let first_half = expected.iter().filter(|a| a.at_ms <= START_MS + 30_000).count();
    control.advance(Duration::from_secs(30)).expect("manual clock");
    let mut queued = Vec::new();
    let mut dialing = 0;
    let collect = async {
        while queued.len() < expected.len() || dialing < expected.len() {
            match events.recv().await {
                Ok(LabEvent::Sip(SipEvent::Queued { queue, from, .. })) => queued.push((queue, from)),
                Ok(LabEvent::Customer { state: CustomerState::Dialing, .. }) => dialing += 1,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events closed: {e}"),
            }
        }
    };
    timeout(Duration::from_secs(20), collect).await.expect("every scheduled call reaches its queue");
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|a| {
            let from = format!("sip:{}@northwind.example.com", scenario.customers[a.customer].phones[0]);
            (scenario.queues[a.queue].name.clone(), from)
        })
        .collect();
    want.sort();
    queued.sort();
    assert_eq!(queued, want, "the schedule's customers call the schedule's queues ({first_half} in the first half)");
    assert!(control.next_arrival_ms().is_some_and(|t| t > START_MS + 60_000));
}
