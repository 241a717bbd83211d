//! A call set up and torn down between two user agents, with transactions
//! and dialogs on both sides, handing messages over as bytes (a lossless,
//! reliable link, as WebSocket is).

use std::time::{Duration, Instant};

use warmline_sip::dialog::Dialog;
use warmline_sip::transaction::{ClientTransaction, Output, ServerTransaction, Timers};
use warmline_sip::{HeaderName, Message, Method, Request, Response, parse};

/// The bytes a transaction asked to send, parsed as the peer would.
fn wire(outputs: &mut impl FnMut() -> Option<Output>) -> Vec<Message> {
    std::iter::from_fn(outputs)
        .filter_map(|o| match o {
            Output::Transmit(bytes) => Some(parse(&bytes).expect("transactions send well-formed messages")),
            _ => None,
        })
        .collect()
}

fn with_via(mut r: Request, branch: &str) -> Request {
    r.headers.push_front(HeaderName::Via, format!("SIP/2.0/WSS caller.invalid;branch=z9hG4bK{branch}"));
    r
}

fn callee_response(invite: &Request, status: u16) -> Response {
    let mut r = Response::to_request(invite, status);
    r.headers.set(HeaderName::To, "<sip:expert@example.com>;tag=callee");
    r.headers.push(HeaderName::Contact, "<sip:expert@callee.invalid;transport=ws>");
    r
}

#[test]
fn invite_ringing_answer_ack_and_bye_leave_matching_dialogs_then_none() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut invite = Request::new(Method::Invite, "sip:expert@example.com".parse().expect("uri"));
    invite.headers.push(HeaderName::From, "\"Agent\" <sip:agent@example.com>;tag=caller");
    invite.headers.push(HeaderName::To, "<sip:expert@example.com>");
    invite.headers.push(HeaderName::CallId, "call-42@caller.invalid");
    invite.headers.push(HeaderName::CSeq, "1 INVITE");
    invite.headers.push(HeaderName::Contact, "<sip:agent@caller.invalid;transport=ws>");
    let invite = with_via(invite, "inv");

    // Caller sends; callee's server transaction answers 100 at once.
    let mut uac = ClientTransaction::new(t0, invite.clone(), true, timers);
    let sent = wire(&mut || uac.poll_output());
    let Some(Message::Request(received)) = sent.into_iter().next() else { panic!("INVITE on the wire") };
    let mut uas = ServerTransaction::new(t0, received.clone(), true, timers);

    // Callee rings (early dialog), then answers.
    let mut callee = Dialog::from_uas(&received, "callee", true).expect("callee dialog");
    uas.respond(t0, callee_response(&received, 180)).expect("180");
    uas.respond(t0 + Duration::from_secs(3), callee_response(&received, 200)).expect("200");
    let mut caller: Option<Dialog> = None;
    for m in wire(&mut || uas.poll_output()) {
        let Message::Response(r) = m else { panic!("responses only") };
        uac.handle_input(t0 + Duration::from_secs(3), r);
    }
    for o in std::iter::from_fn(|| uac.poll_output()) {
        let Output::Response(r) = o else { continue };
        match caller.as_mut() {
            None if r.status > 100 => caller = Some(Dialog::from_uac(&invite, &r).expect("caller dialog")),
            Some(d) => d.handle_response(&Method::Invite, &r).expect("2xx confirms"),
            None => {}
        }
    }
    let mut caller = caller.expect("a dialog from the 180");
    assert_eq!(caller.state(), "Confirmed");
    assert_eq!(uac.state(), "Accepted", "RFC 6026: the INVITE client waits for 2xx retransmissions");
    assert_eq!(callee.state(), "Early");
    callee.confirm();

    // Both sides name the same dialog from their own end.
    assert_eq!(caller.id().call_id, callee.id().call_id);
    assert_eq!((caller.id().local_tag.as_str(), caller.id().remote_tag.as_str()), ("caller", "callee"));
    assert_eq!((callee.id().local_tag.as_str(), callee.id().remote_tag.as_str()), ("callee", "caller"));
    assert_eq!(caller.remote_target().to_string(), "sip:expert@callee.invalid;transport=ws");

    // The ACK for the 2xx goes outside the transaction, to the callee's user.
    let ack = with_via(caller.ack(1), "ack");
    uas.handle_input(t0 + Duration::from_secs(3), parse_request(&ack));
    let acks: Vec<_> = std::iter::from_fn(|| uas.poll_output()).filter(|o| matches!(o, Output::Ack(_))).collect();
    assert_eq!(acks.len(), 1);
    assert!(callee.matches_request(&ack));
    callee.handle_request(&ack).expect("ACK reuses the INVITE's CSeq");

    // Caller hangs up.
    let bye = with_via(caller.new_request(Method::Bye), "bye");
    let mut bye_tx = ClientTransaction::new(t0 + Duration::from_secs(60), bye, true, timers);
    let Some(Message::Request(bye)) = wire(&mut || bye_tx.poll_output()).into_iter().next() else { panic!("BYE") };
    assert!(callee.matches_request(&bye), "the BYE names the callee's dialog");
    callee.handle_request(&bye).expect("CSeq 2 follows 1");
    let mut bye_uas = ServerTransaction::new(t0 + Duration::from_secs(60), bye.clone(), true, timers);
    bye_uas.respond(t0 + Duration::from_secs(60), Response::to_request(&bye, 200)).expect("200 to BYE");
    for m in wire(&mut || bye_uas.poll_output()) {
        let Message::Response(r) = m else { panic!("responses only") };
        bye_tx.handle_input(t0 + Duration::from_secs(60), r);
    }
    let outs: Vec<_> = std::iter::from_fn(|| bye_tx.poll_output()).collect();
    assert!(matches!(outs.as_slice(), [Output::Response(r), Output::Terminated] if r.status == 200), "{outs:?}");
    assert!(bye_uas.is_terminated(), "Timer J is zero on a reliable transport");
}

fn parse_request(r: &Request) -> Request {
    match parse(&r.to_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}
