//! Any sequence of frames from the network: the user agent never panics,
//! whatever state the frames drive it into. Shared by the `ua` fuzz target
//! and the corpus replay test, so both check exactly the same.
//!
//! The input is frames separated by NUL bytes. Before each frame is fed,
//! `$tag` is replaced with the To tag of the user agent's latest response,
//! so seeds can reach confirmed dialogs (re-INVITE, REFER, BYE) although
//! the user agent picks its own tags. Incoming calls are answered, offers
//! accepted, and one second passes between frames, so timers fire too.

use std::time::{Duration, Instant};

use warmline_sip::ua::{Config, Event};
use warmline_sip::{Engine, Flow, Input, Message, Output, Transport, UserAgent, parse};

const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n";

/// Feeds `data` to a fresh user agent.
pub fn check(data: &[u8]) {
    let aor = "sip:agent@warmline.test".parse().expect("AOR");
    let registrar = "sip:warmline.test".parse().expect("registrar");
    let mut config = Config::new(aor, "agent", "secret", registrar);
    config.seed = 7;
    let mut ua = UserAgent::new(config);
    let mut now = Instant::now();
    let flow = Flow {
        transport: Transport::Ws,
        local_host: "fuzz.invalid".into(),
        server: "ws://127.0.0.1:5066".into(),
        server_index: 0,
    };
    ua.handle_input(now, Input::Connected(flow));
    let mut tag = String::from("none");
    drain(&mut ua, now, &mut tag);
    for frame in data.split(|b| *b == 0) {
        let frame = replace(frame, b"$tag", tag.as_bytes());
        ua.handle_input(now, Input::Received(&frame));
        drain(&mut ua, now, &mut tag);
        now += Duration::from_secs(1);
        ua.handle_timeout(now);
        drain(&mut ua, now, &mut tag);
    }
    // Let every timer run out: transactions end, sessions expire.
    for _ in 0..64 {
        let Some(at) = ua.poll_timeout() else { break };
        now = now.max(at);
        ua.handle_timeout(now);
        drain(&mut ua, now, &mut tag);
    }
}

fn drain(ua: &mut UserAgent, now: Instant, tag: &mut String) {
    let mut events = Vec::new();
    while let Some(output) = ua.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                if let Ok(Message::Response(r)) = parse(&bytes)
                    && let Ok(to) = r.headers.to()
                    && let Some(t) = to.tag()
                {
                    *tag = t.to_owned();
                }
            }
            Output::Event(e) => events.push(e),
            _ => {}
        }
    }
    for event in events {
        // Errors are fine (wrong state, and so on); panics are not.
        let _ = match event {
            Event::IncomingCall { call, .. } => ua.answer(now, call, SDP.to_vec()),
            Event::OfferReceived { call, .. } => ua.accept_answer(now, call, SDP.to_vec()),
            Event::OfferNeeded { call } => ua.provide_offer(now, call, SDP.to_vec()),
            _ => Ok(()),
        };
    }
    while ua.poll_output().is_some() {}
}

fn replace(frame: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len());
    let mut i = 0;
    while i < frame.len() {
        if frame[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(frame[i]);
            i += 1;
        }
    }
    out
}
