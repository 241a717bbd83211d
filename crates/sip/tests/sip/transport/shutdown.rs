//! Shutdown lets the engine finish over the open connection (an
//! un-REGISTER), within a bound, then closes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use warmline_sip::Output;
use warmline_sip::transport::{self, Closed, TransportEvent};

use super::{Probe, Seen, TestServer, config, engine_connected, expect, within};

#[tokio::test]
async fn shutdown_waits_for_the_engine_to_finish_then_closes() {
    let mut server = TestServer::start(true).await;
    let (handle, mut events) = transport::spawn(Probe::default(), config(&[server.url("ws")])).expect("spawn");
    let mut peer = server.accept().await;
    engine_connected(&mut events).await;

    let stopping = handle.clone();
    let shutdown = tokio::spawn(async move {
        stopping
            .shutdown(
                |p: &mut Probe, _| p.outbox.push_back(Output::Transmit(b"unregister".to_vec())),
                |p: &Probe| p.finished,
                Duration::from_secs(15),
            )
            .await
    });
    // The engine's last frame goes out over the still-open connection...
    let last = within("the engine's last frame", peer.ws.next()).await.expect("open").expect("frame");
    assert_eq!(last, Message::text("unregister"));
    assert!(!shutdown.is_finished(), "the transport waits for the engine");
    // ...and the answer still comes in.
    peer.ws.send(Message::text("done")).await.expect("answer");
    within("shutdown", shutdown).await.expect("no panic").expect("shut down");
    expect(&mut events, "the answer", |e| matches!(e, TransportEvent::Engine(Seen::Received(_))).then_some(())).await;
    expect(&mut events, "Closed", |e| matches!(e, TransportEvent::Closed).then_some(())).await;
    match within("the close", peer.ws.next()).await {
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {}
        Some(Ok(other)) => panic!("nothing after the shutdown but the close: {other:?}"),
    }
    assert_eq!(handle.with(|_, _| ()).await, Err(Closed), "the task is gone");
    assert!(events.recv().await.is_none(), "no event after Closed");
}

#[tokio::test]
async fn shutdown_gives_up_waiting_after_its_bound() {
    let mut server = TestServer::start(true).await;
    let (handle, mut events) = transport::spawn(Probe::default(), config(&[server.url("ws")])).expect("spawn");
    let _peer = server.accept().await;
    engine_connected(&mut events).await;
    // The far end never answers: the bound is what ends it.
    let bound = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    within("shutdown", handle.shutdown(|_, _| {}, |p: &Probe| p.finished, bound)).await.expect("shut down");
    assert!(started.elapsed() >= bound, "it waited for the engine as long as allowed");
    expect(&mut events, "Closed", |e| matches!(e, TransportEvent::Closed).then_some(())).await;
}

#[tokio::test]
async fn shutdown_while_disconnected_stops_at_once() {
    let port = super::closed_port().await;
    let (handle, mut events) =
        transport::spawn(Probe::default(), config(&[format!("ws://127.0.0.1:{port}")])).expect("spawn");
    expect(&mut events, "ConnectFailed", |e| matches!(e, TransportEvent::ConnectFailed(_)).then_some(())).await;
    within("shutdown", handle.shutdown(|_, _| {}, |_: &Probe| false, Duration::from_secs(600))).await.expect("stop");
    expect(&mut events, "Closed", |e| matches!(e, TransportEvent::Closed).then_some(())).await;
}

#[tokio::test]
async fn dropping_every_handle_stops_the_transport() {
    let mut server = TestServer::start(true).await;
    let (handle, mut events) = transport::spawn(Probe::default(), config(&[server.url("ws")])).expect("spawn");
    let _peer = server.accept().await;
    engine_connected(&mut events).await;
    drop(handle);
    expect(&mut events, "Closed", |e| matches!(e, TransportEvent::Closed).then_some(())).await;
}
