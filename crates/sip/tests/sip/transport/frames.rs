//! Connecting with the `sip` subprotocol, frames both ways, pings, timers,
//! and the URLs the transport refuses.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use warmline_sip::Transport;
use warmline_sip::transport::{self, ConfigError, ConnectError, TransportConfig, TransportEvent};

use super::{Probe, Seen, TestServer, config, engine_connected, expect, send, within};

const OPTIONS: &[u8] =
    b"OPTIONS sip:agent@example.com SIP/2.0\r\nVia: SIP/2.0/WS sbc.example.com;branch=z9hG4bK1\r\n\r\n";

#[tokio::test]
async fn frames_flow_both_ways_over_the_sip_subprotocol() {
    let mut server = TestServer::start(true).await;
    let url = server.url("ws");
    let (handle, mut events) = transport::spawn(Probe::default(), config(std::slice::from_ref(&url))).expect("spawn");

    let index = expect(&mut events, "Connecting", |e| match e {
        TransportEvent::Connecting { server, server_index } if *server == url => Some(*server_index),
        _ => None,
    })
    .await;
    assert_eq!(index, 0);
    let mut peer = server.accept().await;
    assert_eq!(peer.protocols.as_deref(), Some("sip"), "the client asks for the RFC 7118 subprotocol");
    let flow = engine_connected(&mut events).await;
    assert_eq!(flow.transport, Transport::Ws);
    assert_eq!((flow.server.as_str(), flow.server_index), (url.as_str(), 0));
    let label = flow.local_host.strip_suffix(".invalid").expect("a .invalid host (RFC 7118 5.2)");
    assert!(label.len() >= 8 && label.bytes().all(|b| b.is_ascii_alphanumeric()), "{}", flow.local_host);

    // Server to engine: a text message, a binary one, and a CRLF keep-alive.
    peer.ws.send(Message::text(String::from_utf8_lossy(OPTIONS).into_owned())).await.expect("send text");
    peer.ws.send(Message::binary(Bytes::from_static(b"\r\n\r\n"))).await.expect("send binary");
    for want in [OPTIONS, b"\r\n\r\n"] {
        let got = expect(&mut events, "a received frame", |e| match e {
            TransportEvent::Engine(Seen::Received(b)) => Some(b.clone()),
            _ => None,
        })
        .await;
        assert_eq!(got, want, "one WebSocket message is one input, byte for byte");
    }

    // Engine to server: UTF-8 goes as text, anything else as binary.
    send(&handle, vec![b"REGISTER sip:example.com SIP/2.0\r\n\r\n".to_vec(), vec![0xff, 0x00, 0x80]]).await;
    let first = within("a text frame", peer.ws.next()).await.expect("open").expect("frame");
    assert_eq!(first, Message::text("REGISTER sip:example.com SIP/2.0\r\n\r\n"));
    let second = within("a binary frame", peer.ws.next()).await.expect("open").expect("frame");
    assert_eq!(second, Message::binary(vec![0xff, 0x00, 0x80]));

    // A WebSocket ping is answered by the transport itself.
    peer.ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.expect("ping");
    let pong = within("a pong", peer.ws.next()).await.expect("open").expect("frame");
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"are you there")));
}

#[tokio::test]
async fn a_server_that_does_not_echo_the_sip_subprotocol_is_refused_by_name() {
    let mut server = TestServer::start(false).await;
    let url = server.url("ws");
    let (_handle, mut events) = transport::spawn(Probe::default(), config(std::slice::from_ref(&url))).expect("spawn");
    let error = expect(&mut events, "ConnectFailed", |e| match e {
        TransportEvent::ConnectFailed(error) => Some(error.clone()),
        TransportEvent::Engine(Seen::Connected(_)) => panic!("the engine must not see a non-SIP WebSocket"),
        _ => None,
    })
    .await;
    assert_eq!(error, ConnectError::NoSipSubprotocol { server: url.clone() });
    let text = error.to_string();
    assert!(text.contains(&url) && text.contains("\"sip\""), "the error names the server and the subprotocol: {text}");
    assert_eq!(server.accept().await.protocols.as_deref(), Some("sip"));
    // It keeps trying (the admin may fix the server), with backoff.
    let delay = expect(&mut events, "Reconnecting", |e| match e {
        TransportEvent::Reconnecting { delay, .. } => Some(*delay),
        _ => None,
    })
    .await;
    assert_eq!(delay, Duration::from_millis(20));
}

#[test]
fn plain_websocket_to_a_remote_host_is_refused_before_anything_is_sent() {
    for url in ["ws://sbc.example.com/ws", "ws://192.0.2.10:8080"] {
        match transport::spawn(Probe::default(), TransportConfig::new([url])) {
            Err(ConfigError::InsecureServer { server }) => assert_eq!(server, url),
            Err(other) => panic!("{url}: wrong error {other}"),
            Ok(_) => panic!("{url}: an unencrypted connection off loopback must be refused"),
        }
    }
    let message = transport::spawn(Probe::default(), TransportConfig::new(["ws://sbc.example.com"]))
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("ws://sbc.example.com") && message.contains("wss://"), "{message}");
    assert!(matches!(
        transport::spawn(Probe::default(), TransportConfig::new(Vec::<String>::new())),
        Err(ConfigError::NoServers)
    ));
    assert!(matches!(
        transport::spawn(Probe::default(), TransportConfig::new(["https://sbc.example.com"])),
        Err(ConfigError::BadUrl { .. })
    ));
}

#[tokio::test]
async fn the_engine_timer_fires_on_the_transport_clock() {
    let mut server = TestServer::start(true).await;
    let url = server.url("ws");
    let (handle, mut events) = transport::spawn(Probe::default(), config(&[url])).expect("spawn");
    let _peer = server.accept().await;
    engine_connected(&mut events).await;
    handle.with(|p, now| p.timer = Some(now + Duration::from_millis(30))).await.expect("running");
    expect(&mut events, "the engine's timer", |e| matches!(e, TransportEvent::Engine(Seen::Timer)).then_some(())).await;
    assert_eq!(handle.with(|p, _| p.timer).await, Ok(None), "handle_timeout ran");
}
