//! The long-running sync task wakes when a note is saved and delivers it.

use std::time::Duration;

use tokio::sync::Notify;
use warmline_store::sync::{SystemClock, sync_forever};
use warmline_store::{NewNote, Outbox, RetryPolicy, Timestamp};

use crate::conformance::{ada, connector};
use crate::crm::{Crm, CrmServer, TOKEN};

#[tokio::test]
async fn sync_forever_delivers_each_save_it_is_woken_for() {
    let server = CrmServer::start(Crm::with_customer(ada()));
    let crm = connector(&server, TOKEN);
    let arrived = server.crm().arrived.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::open(&dir.path().join("w.db")).store;
    let mut outbox = Outbox::new(RetryPolicy::default(), 5);
    let saved = Notify::new();

    let agent = async {
        let id = store.create_note(&NewNote::default(), Timestamp::now()).expect("create");
        for (n, text) in ["first", "second"].into_iter().enumerate() {
            store.save_note(id, text, Timestamp::now()).expect("save");
            saved.notify_one();
            while server.crm().arrivals.len() <= n {
                // A safety net against a hang, not a synchronisation sleep.
                tokio::time::timeout(Duration::from_secs(20), arrived.notified()).await.expect("the save arrives");
            }
        }
        id
    };
    let forever = sync_forever(&store, &mut outbox, &crm, &SystemClock, &saved);
    spawnable(&forever);
    let id = tokio::select! {
        result = forever => panic!("the runner stopped: {result:?}"),
        id = agent => id,
    };
    let uid = store.note(id).expect("note").uid;
    assert_eq!(server.crm().arrivals, [(uid.clone(), 1), (uid, 2)], "each save once, in order");
}

/// The app runs the sync loop on a tokio task: its future must be `Send`.
fn spawnable<F: Future + Send>(_: &F) {}
