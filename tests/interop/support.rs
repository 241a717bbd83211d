//! Waiting on transport events: every wait is on a channel, with a generous
//! timeout that only turns a hang into a failure.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use warmline_sip::transport::{Events, TransportEvent};

/// The failure guard for every wait.
pub const GUARD: Duration = Duration::from_secs(30);

/// Awaits `fut`, failing the test if it takes longer than [`GUARD`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Waits for the next event `pick` accepts, skipping (and remembering, for
/// the failure message) the others.
pub async fn expect<E: Debug, T>(
    events: &mut Events<E>,
    what: &str,
    mut pick: impl FnMut(&TransportEvent<E>) -> Option<T>,
) -> T {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(GUARD, async {
        while let Some(event) = events.recv().await {
            if let Some(v) = pick(&event) {
                return Some(v);
            }
            skipped.push(event.to_string());
        }
        None
    })
    .await;
    match found {
        Ok(Some(v)) => v,
        Ok(None) => panic!("events ended while waiting for {what}; before that: {skipped:#?}"),
        Err(_) => panic!("no {what} within {GUARD:?}; saw: {skipped:#?}"),
    }
}

/// Waits for an engine event `pick` accepts.
pub async fn engine_event<E: Debug + Clone, T>(
    events: &mut Events<E>,
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    expect(events, what, |e| match e {
        TransportEvent::Engine(inner) => pick(inner),
        _ => None,
    })
    .await
}
