//! Drops, reconnects and failover between servers.

use futures_util::StreamExt;
use warmline_sip::transport::{self, ConnectError, TransportEvent};
use warmline_sip::{Output, Transport};

use super::{Probe, Seen, TestServer, closed_port, config, engine_connected, expect, within};

#[tokio::test]
async fn a_dropped_connection_is_reported_and_connected_again() {
    let mut server = TestServer::start(true).await;
    let url = server.url("ws");
    let (_handle, mut events) = transport::spawn(Probe::default(), config(std::slice::from_ref(&url))).expect("spawn");
    let peer = server.accept().await;
    let first = engine_connected(&mut events).await;

    drop(peer);
    let reason = expect(&mut events, "Disconnected", |e| match e {
        TransportEvent::Disconnected { server, reason } if *server == url => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(!reason.is_empty());
    // The engine's Disconnected input and the reconnect plan, in either order.
    let mut engine_told = false;
    let (index, failover) = expect(&mut events, "Reconnecting", |e| match e {
        TransportEvent::Engine(Seen::Disconnected) => {
            engine_told = true;
            None
        }
        TransportEvent::Reconnecting { server_index, failover, .. } => Some((*server_index, *failover)),
        _ => None,
    })
    .await;
    if !engine_told {
        expect(&mut events, "the engine's Disconnected input", |e| {
            matches!(e, TransportEvent::Engine(Seen::Disconnected)).then_some(())
        })
        .await;
    }
    assert_eq!((index, failover), (0, false), "one server: the same one again");

    let _again = server.accept().await;
    let second = engine_connected(&mut events).await;
    assert_eq!(second, first, "same server, same flow identity (the .invalid host is kept)");
}

#[tokio::test]
async fn the_second_server_takes_over_when_the_first_is_down() {
    let down = format!("ws://127.0.0.1:{}/sip", closed_port().await);
    let mut up = TestServer::start(true).await;
    let up_url = up.url("ws");
    let (_handle, mut events) =
        transport::spawn(Probe::default(), config(&[down.clone(), up_url.clone()])).expect("spawn");

    let failed = expect(&mut events, "ConnectFailed", |e| match e {
        TransportEvent::ConnectFailed(error) => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(matches!(&failed, ConnectError::Io { server, .. } if *server == down), "{failed:?}");
    let next = expect(&mut events, "Reconnecting", |e| match e {
        TransportEvent::Reconnecting { server, server_index, delay, failover } => {
            Some((server.clone(), *server_index, *delay, *failover))
        }
        _ => None,
    })
    .await;
    assert_eq!(next, (up_url.clone(), 1, std::time::Duration::ZERO, true), "straight on to the second server");
    let _peer = up.accept().await;
    let flow = engine_connected(&mut events).await;
    assert_eq!((flow.server.as_str(), flow.server_index, flow.transport), (up_url.as_str(), 1, Transport::Ws));
}

#[tokio::test]
async fn a_reconnect_asked_by_the_engine_moves_to_the_next_server() {
    let mut a = TestServer::start(true).await;
    let mut b = TestServer::start(true).await;
    let (handle, mut events) = transport::spawn(Probe::default(), config(&[a.url("ws"), b.url("ws")])).expect("spawn");
    let mut peer_a = a.accept().await;
    assert_eq!(engine_connected(&mut events).await.server_index, 0);

    handle
        .with(|p, _| p.outbox.push_back(Output::Reconnect { reason: "keep-alive pong missing".into() }))
        .await
        .expect("running");
    let reason = expect(&mut events, "Disconnected", |e| match e {
        TransportEvent::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("keep-alive pong missing"), "{reason}");
    // The old flow is closed, not left dangling.
    loop {
        match within("server A to see the close", peer_a.ws.next()).await {
            None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => break,
            Some(Ok(_)) => {}
        }
    }
    let _peer_b = b.accept().await;
    let flow = engine_connected(&mut events).await;
    assert_eq!(flow.server_index, 1);
}

#[tokio::test]
async fn a_server_that_never_answers_the_upgrade_times_out_and_fails_over() {
    // Accepts TCP, then says nothing: the attempt must not hang.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("ws://{}/sip", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let mut up = TestServer::start(true).await;
    let mut config = config(&[silent_url.clone(), up.url("ws")]);
    config.connect_timeout = std::time::Duration::from_millis(300);
    let (_handle, mut events) = transport::spawn(Probe::default(), config).expect("spawn");
    let failed = expect(&mut events, "ConnectFailed", |e| match e {
        TransportEvent::ConnectFailed(error) => Some(error.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        failed,
        ConnectError::Timeout { server: silent_url, after: std::time::Duration::from_millis(300) },
        "the whole attempt, upgrade included, is bounded"
    );
    let _peer = up.accept().await;
    assert_eq!(engine_connected(&mut events).await.server_index, 1);
    held.abort();
}
