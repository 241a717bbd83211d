//! Registration over WebSocket with digest auth against Kamailio, routing
//! between registered agents, CRLF keep-alive and un-REGISTER, through the
//! real tokio transport.

use std::time::Duration;

use warmline_sip::transport::{self, Backoff, Events, Handle, TransportConfig, TransportEvent};

use crate::kamailio::Kamailio;
use crate::registrar_agent::{RegistrarAgent, Seen};
use crate::support::{engine_event, expect, within};

pub struct Agent {
    pub user: &'static str,
    pub handle: Handle<RegistrarAgent>,
    pub events: Events<Seen>,
}

pub fn transport_config(kamailio: &Kamailio, seed: u64) -> TransportConfig {
    let mut config = TransportConfig::new([kamailio.ws_url()]);
    config.connect_timeout = Duration::from_secs(5);
    config.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_secs(1),
        jitter: true,
        reset_after: Duration::from_secs(30),
    };
    config.seed = Some(seed);
    config
}

fn agent(kamailio: &Kamailio, user: &'static str, password: String, seed: u64) -> Agent {
    spawn_agent(kamailio, user, RegistrarAgent::new(user, password, seed), seed)
}

fn spawn_agent(kamailio: &Kamailio, user: &'static str, engine: RegistrarAgent, seed: u64) -> Agent {
    let (handle, events) = transport::spawn(engine, transport_config(kamailio, seed)).expect("transport config");
    Agent { user, handle, events }
}

async fn registered(agent: &mut Agent) -> Duration {
    let user = agent.user;
    engine_event(&mut agent.events, &format!("{user} registered"), |e| match e {
        Seen::Registered(expires) => Some(*expires),
        Seen::Failed(status) => panic!("{user}: registration failed with {status}"),
        _ => None,
    })
    .await
}

async fn unregister(agent: &mut Agent) {
    agent
        .handle
        .shutdown(|a, now| a.unregister(now), |a: &RegistrarAgent| a.finished(), Duration::from_secs(10))
        .await
        .expect("transport running");
    let user = agent.user;
    engine_event(&mut agent.events, &format!("{user} unregistered"), |e| matches!(e, Seen::Unregistered).then_some(()))
        .await;
    expect(&mut agent.events, "the transport to close", |e| matches!(e, TransportEvent::Closed).then_some(())).await;
}

#[tokio::test]
async fn three_agents_register_over_websocket_with_digest_auth_and_reach_each_other() {
    let kamailio = Kamailio::start("register_three");
    let mut agents = Vec::new();
    for (i, user) in ["alice", "bob", "carol"].into_iter().enumerate() {
        agents.push(agent(&kamailio, user, kamailio.password(user), 0xa11ce + i as u64));
    }
    for a in &mut agents {
        let expires = registered(a).await;
        assert!(expires > Duration::ZERO && expires <= Duration::from_secs(300), "{}: {expires:?}", a.user);
    }

    // Kamailio finds bob's binding and the WebSocket connection behind it.
    let [alice, bob, carol] = &mut agents[..] else { unreachable!("three agents") };
    alice.handle.with(|a, _| a.message("bob", "hello bob")).await.expect("running");
    let (from, body) = engine_event(&mut bob.events, "alice's MESSAGE at bob", |e| match e {
        Seen::Request { method, from_user, body } if method == "MESSAGE" => Some((from_user.clone(), body.clone())),
        _ => None,
    })
    .await;
    assert_eq!((from.as_deref(), body.as_slice()), (Some("alice"), b"hello bob".as_slice()));
    let status = engine_event(&mut alice.events, "the MESSAGE's answer", |e| match e {
        Seen::Response { method, status } if method == "MESSAGE" => Some(*status),
        _ => None,
    })
    .await;
    assert_eq!(status, 200, "bob's 200 came back through Kamailio");
    carol.handle.with(|a, _| a.message("alice", "hi alice")).await.expect("running");
    engine_event(&mut alice.events, "carol's MESSAGE at alice", |e| match e {
        Seen::Request { from_user, .. } => (from_user.as_deref() == Some("carol")).then_some(()),
        _ => None,
    })
    .await;

    // Once bob has un-REGISTERed, Kamailio no longer knows him.
    unregister(bob).await;
    alice.handle.with(|a, _| a.message("bob", "still there?")).await.expect("running");
    let status = engine_event(&mut alice.events, "the answer for the gone bob", |e| match e {
        Seen::Response { status, .. } => Some(*status),
        _ => None,
    })
    .await;
    assert_eq!(status, 404, "bob's binding was removed");
    unregister(alice).await;
    unregister(carol).await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_reported_as_failed() {
    let kamailio = Kamailio::start("register_wrong_password");
    let mut mallory = agent(&kamailio, "mallory", "not-the-password".into(), 0xbad);
    let status = engine_event(&mut mallory.events, "the registration to fail", |e| match e {
        Seen::Failed(status) => Some(*status),
        Seen::Registered(_) => panic!("a wrong password must not register"),
        _ => None,
    })
    .await;
    assert_eq!(status, 403, "Kamailio answers a wrong password with 403 (the config's choice)");
    // bob's own, valid credentials do not register eve: the digest user
    // must be the To user.
    let as_bob = RegistrarAgent::new("eve", kamailio.password("bob"), 0xe7e).with_auth_user("bob");
    let mut eve = spawn_agent(&kamailio, "eve", as_bob, 0xe7e);
    let status = engine_event(&mut eve.events, "eve's registration to fail", |e| match e {
        Seen::Failed(status) => Some(*status),
        Seen::Registered(_) => panic!("bob's credentials must not register eve"),
        _ => None,
    })
    .await;
    assert!(matches!(status, 401 | 403), "refused with {status}");
}

#[tokio::test]
async fn crlf_keepalive_over_websocket_is_answered() {
    let kamailio = Kamailio::start("keepalive");
    let mut alice = agent(&kamailio, "alice", kamailio.password("alice"), 0x5eed);
    registered(&mut alice).await;
    for round in 0..3 {
        alice.handle.with(|a, _| a.ping()).await.expect("running");
        within(
            &format!("pong {round}"),
            engine_event(&mut alice.events, "a CRLF pong", |e| matches!(e, Seen::Pong).then_some(())),
        )
        .await;
    }
    unregister(&mut alice).await;
}
