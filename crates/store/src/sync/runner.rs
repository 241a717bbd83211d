//! The thin async shell around the sans-IO [`Outbox`]: it owns the clock and
//! the connector, nothing else.

use std::future::Future;

use tokio::sync::Notify;

use super::{Connector, deliver};
use crate::clock::Timestamp;
use crate::customers::{CachedCustomer, CustomerKey};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::outbox::{Outbox, SyncPoll, SyncState};
use crate::recovery::ServerRestore;

/// Where the runner gets time from: the system clock in the app, a
/// simulated one in tests (which jumps instead of sleeping).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Returns at `deadline` or later.
    fn sleep_until(&self, deadline: Timestamp) -> impl Future<Output = ()> + Send;
}

/// The system clock, sleeping with tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        tokio::time::sleep(deadline.since(Timestamp::now())).await;
    }
}

/// What one [`sync_until_idle`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRound {
    /// Deliveries the CRM accepted.
    pub delivered: usize,
    /// Deliveries that will be retried.
    pub retried: usize,
    /// Deliveries that ended in a conflict.
    pub conflicts: usize,
    /// Deliveries the CRM refused for good.
    pub failed: usize,
}

/// Sends everything in the outbox, waiting out backoffs on `clock`, until
/// nothing is left to send (all delivered, failed or in conflict).
pub async fn sync_until_idle<C: Connector, K: Clock>(
    store: &Store,
    outbox: &mut Outbox,
    connector: &C,
    clock: &K,
) -> Result<SyncRound> {
    let mut round = SyncRound::default();
    loop {
        match outbox.poll(store, clock.now())? {
            SyncPoll::Send(deliveries) => send_all(store, outbox, connector, clock, &deliveries, &mut round).await?,
            SyncPoll::WaitUntil(at) => clock.sleep_until(at).await,
            SyncPoll::Idle => return Ok(round),
        }
    }
}

/// Runs for the life of the app: sends what is due, sleeps until the next
/// retry or until `saved` is notified (call `notify_one` after each save).
pub async fn sync_forever<C: Connector, K: Clock>(
    store: &Store,
    outbox: &mut Outbox,
    connector: &C,
    clock: &K,
    saved: &Notify,
) -> Result<()> {
    let mut round = SyncRound::default();
    loop {
        match outbox.poll(store, clock.now())? {
            SyncPoll::Send(deliveries) => send_all(store, outbox, connector, clock, &deliveries, &mut round).await?,
            SyncPoll::WaitUntil(at) => {
                tokio::select! {
                    () = clock.sleep_until(at) => {}
                    () = saved.notified() => {}
                }
            }
            SyncPoll::Idle => saved.notified().await,
        }
    }
}

async fn send_all<C: Connector, K: Clock>(
    store: &Store,
    outbox: &mut Outbox,
    connector: &C,
    clock: &K,
    deliveries: &[super::NoteDelivery],
    round: &mut SyncRound,
) -> Result<()> {
    for d in deliveries {
        let outcome = deliver(connector, d).await;
        match outbox.handle(store, d, &outcome, clock.now())? {
            SyncState::Synced => round.delivered += 1,
            SyncState::Conflict => round.conflicts += 1,
            SyncState::Failed(_) => round.failed += 1,
            _ if outcome.is_ok() => round.delivered += 1,
            _ => round.retried += 1,
        }
    }
    Ok(())
}

/// Asks the CRM about a customer and caches the answer. `Ok(None)`: the CRM
/// does not know them.
pub async fn refresh_customer<C: Connector>(
    store: &Store,
    connector: &C,
    key: &CustomerKey,
    now: Timestamp,
) -> Result<Option<CachedCustomer>> {
    match connector.lookup(key).await.map_err(Error::Connector)? {
        None => Ok(None),
        Some(mut record) => {
            if !record.keys.contains(key) && !matches!(key, CustomerKey::CrmId(_)) {
                record.keys.push(key.clone());
            }
            let id = store.cache_customer(&record, now)?;
            store.customer_by_id(id).map(Some)
        }
    }
}

/// After a recovery: fetches the notes the CRM holds (changed at or after
/// `since`, or all with `None`) and restores those the local database lacks,
/// page by page, as [`Store::restore_server_notes`] describes. Safe to run
/// again, e.g. when the CRM was unreachable: pages already applied stay
/// applied and are counted as already local the next time. Record the
/// result with [`crate::RecoveryReport::record_server_restore`].
pub async fn restore_from_server<C: Connector>(
    store: &Store,
    connector: &C,
    since: Option<Timestamp>,
    now: Timestamp,
) -> Result<ServerRestore> {
    let mut counts = ServerRestore::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = connector.list_notes(since, cursor.as_deref()).await.map_err(Error::Connector)?;
        counts.add(store.restore_server_notes(&page.notes, now)?);
        match page.next {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            Some(_) => {
                return Err(Error::Connector(super::ConnectorError::Protocol(
                    "the CRM returned the same cursor twice".into(),
                )));
            }
            None => return Ok(counts),
        }
    }
}
