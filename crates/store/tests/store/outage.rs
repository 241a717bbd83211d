//! Must show: the CRM refuses connections for a while, then comes back;
//! every note arrives exactly once, in order per note. On simulated time:
//! the runner's backoff sleeps jump the clock instead of waiting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warmline_store::sync::{Clock, deliver, sync_until_idle};
use warmline_store::{NewNote, NoteId, Outbox, RetryPolicy, Store, SyncPoll, SyncState, Timestamp};

use crate::conformance::{ada, connector};
use crate::crm::{Crm, CrmServer, TOKEN};

/// A clock that jumps to each deadline and, once the outage is over, brings
/// the stopped CRM back.
struct SimClock {
    now: Mutex<Timestamp>,
    outage_ends: Timestamp,
    stopped: Mutex<Option<Arc<Mutex<CrmServer>>>>,
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock")
    }

    fn sleep_until(&self, deadline: Timestamp) -> impl Future<Output = ()> + Send {
        let mut now = self.now.lock().expect("clock");
        *now = (*now).max(deadline);
        if *now >= self.outage_ends
            && let Some(server) = self.stopped.lock().expect("server").take()
        {
            server.lock().expect("server").restart();
        }
        std::future::ready(())
    }
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

#[tokio::test]
async fn every_note_arrives_exactly_once_and_in_order_after_an_outage() {
    let mut server = CrmServer::start(Crm::with_customer(ada()));
    let crm = connector(&server, TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Store = crate::open(&dir.path().join("w.db")).store;
    let mut outbox =
        Outbox::new(RetryPolicy { first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(60) }, 99);

    // Before the outage: two notes synced.
    let mut expected: BTreeMap<NoteId, i64> = BTreeMap::new();
    for n in 0..2 {
        let id = store
            .create_note(&NewNote { customer_ref: Some("+442079460018".into()), ..NewNote::default() }, t(0))
            .expect("create");
        expected.insert(id, store.save_note(id, &format!("note {n} rev 1"), t(0)).expect("save"));
    }
    let outage_ends = t(15 * 60 * 1000);
    let clock = SimClock { now: Mutex::new(t(0)), outage_ends, stopped: Mutex::new(None) };
    let round = sync_until_idle(&store, &mut outbox, &crm, &clock).await.expect("sync");
    assert_eq!(round.delivered, 2);

    // The CRM goes away; the agent keeps working: new revisions and new notes.
    server.stop().await;
    let server = Arc::new(Mutex::new(server));
    for (i, id) in expected.clone().keys().enumerate() {
        for rev in 2..=4 {
            let now = t(1_000 * i64::from(rev));
            expected.insert(*id, store.save_note(*id, &format!("note {i} rev {rev}"), now).expect("save offline"));
        }
    }
    for n in 2..6 {
        let id = store.create_note(&NewNote::default(), t(5_000)).expect("create offline");
        store.save_note(id, &format!("note {n} rev 1"), t(5_000)).expect("save");
        expected.insert(id, store.save_note(id, &format!("note {n} rev 2"), t(6_000)).expect("save"));
    }

    // One attempt while it is down shows the notes as offline.
    let SyncPoll::Send(batch) = outbox.poll(&store, t(7_000)).expect("poll") else { panic!("notes are due") };
    for d in &batch {
        let outcome = deliver(&crm, d).await;
        assert!(matches!(&outcome, Err(e) if e.is_transient()), "refused connections are transient: {outcome:?}");
        assert_eq!(outbox.handle(&store, d, &outcome, t(7_000)).expect("handle"), SyncState::Offline);
    }

    // The runner retries with backoff until the CRM is back (15 simulated
    // minutes), and the first responses after it returns are lost.
    server.lock().expect("server").crm().lose_responses = 3;
    let clock = SimClock { now: Mutex::new(t(7_000)), outage_ends, stopped: Mutex::new(Some(server.clone())) };
    let round = sync_until_idle(&store, &mut outbox, &crm, &clock).await.expect("sync");
    let finished = clock.now();
    assert!(finished >= outage_ends, "nothing can arrive during the outage");
    assert!(
        finished <= outage_ends.plus(Duration::from_secs(60 + 60)),
        "backoff is capped at a minute: done {:?} after the outage",
        finished.since(outage_ends)
    );
    assert!(round.retried > 0 && round.failed == 0 && round.conflicts == 0, "{round:?}");

    let server = server.lock().expect("server");
    let arrivals = server.crm().arrivals.clone();
    let mut per_note: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (client, revision) in &arrivals {
        per_note.entry(client.clone()).or_default().push(*revision);
    }
    for (id, last) in &expected {
        let uid = store.note(*id).expect("note").uid;
        assert_eq!(
            per_note.get(&uid),
            Some(&(1..=*last).collect::<Vec<_>>()),
            "note {uid}: each revision once, in order"
        );
        assert_eq!(store.sync_state(*id).expect("state"), SyncState::Synced);
    }
    let total: i64 = expected.values().sum();
    assert_eq!(arrivals.len(), usize::try_from(total).expect("small"), "no duplicates: {arrivals:?}");
}
