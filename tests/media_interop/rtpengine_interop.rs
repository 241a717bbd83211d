//! Our WebRTC session (ICE, DTLS-SRTP, rtcp-mux) calls a plain RTP/AVP
//! peer through rtpengine, which terminates ICE and DTLS-SRTP on our side
//! and speaks plain RTP on the other, as an SBC in front of a contact
//! center does. Each side must hear the other's tone in at least 98% of
//! 20 ms windows after setup.

use warmline_media::dtmf::DtmfEvent;
use warmline_media::session::{MediaConfig, MediaEvent, MediaSession};

use crate::call::{MEASURED_FRAMES, SETTLE_FRAMES, play_tone, share_heard, wait_for};
use crate::plain_rtp::{Codec, PlainRtpPeer};
use warmline_e2e::bencode::Value;
use warmline_e2e::rtpengine::{Rtpengine, sdp_of};

const OUR_TONE: f32 = 600.0;
const PEER_TONE: f32 = 1000.0;

async fn webrtc_offer_to_plain_rtp(codec: Codec) {
    let mut rtpengine = Rtpengine::start().expect("rtpengine should start (package rtpengine-daemon)");
    let (session, mut port) = MediaSession::new(MediaConfig::loopback()).await.expect("media session");
    let mut peer = PlainRtpPeer::bind(codec).await.expect("plain RTP peer");
    let call_id = format!("warmline-interop-{}-{codec:?}", std::process::id());

    let offer = session.create_offer().await.expect("our offer");
    let reply = rtpengine
        .request(Value::dict([
            ("command", "offer".into()),
            ("call-id", call_id.clone().into()),
            ("from-tag", "warmline".into()),
            ("sdp", offer.into()),
            // Toward the plain peer: RTP/AVP, no ICE, RTCP on its own port.
            ("transport-protocol", "RTP/AVP".into()),
            ("ICE", "remove".into()),
            ("rtcp-mux", ["demux"].into()),
            ("replace", ["origin", "session-connection"].into()),
        ]))
        .await
        .expect("rtpengine accepts our WebRTC offer");
    let plain_offer = sdp_of(&reply).expect("offer for the plain side");
    assert!(!plain_offer.contains("a=candidate") && !plain_offer.contains("a=fingerprint"), "{plain_offer}");
    let plain_answer = peer.answer(&plain_offer).expect("the plain peer answers");

    let reply = rtpengine
        .request(Value::dict([
            ("command", "answer".into()),
            ("call-id", call_id.clone().into()),
            ("from-tag", "warmline".into()),
            ("to-tag", "plain".into()),
            ("sdp", plain_answer.into()),
        ]))
        .await
        .expect("rtpengine accepts the plain answer");
    let answer = sdp_of(&reply).expect("answer for our side");
    assert!(
        answer.contains("UDP/TLS/RTP/SAVPF") && answer.contains("a=fingerprint:") && answer.contains("a=candidate"),
        "rtpengine answers our side with ICE and DTLS-SRTP:\n{answer}"
    );
    session.accept_answer(&answer).await.expect("our side applies rtpengine's answer");

    let _tone = play_tone(port.input.clone(), OUR_TONE);
    peer.start(PEER_TONE).expect("peer starts");
    wait_for(&mut port, "ICE + DTLS to rtpengine", |e| *e == MediaEvent::Connected).await;

    let (we_hear, peer_hears) =
        tokio::join!(share_heard(&mut port, PEER_TONE), peer.share_heard(OUR_TONE, SETTLE_FRAMES, MEASURED_FRAMES));
    let peer_hears = peer_hears.expect("the plain peer records");
    eprintln!("{codec:?} through rtpengine: we hear the peer in {we_hear:.3}, the peer hears us in {peer_hears:.3}");
    assert!(rtpengine.is_running(), "rtpengine is still up:\n{}", rtpengine.log_tail());
    assert!(we_hear >= 0.98, "our side hears the plain peer through rtpengine: {we_hear}");
    assert!(peer_hears >= 0.98, "the plain peer hears us through rtpengine: {peer_hears}");

    // DTMF as RFC 4733 both ways, at the clock of the codec in use
    // (telephone-event/8000 beside PCMU, /48000 beside Opus).
    let rate = if codec == Codec::Pcmu { "8000" } else { "48000" };
    assert!(plain_answer_has(&answer, &format!("telephone-event/{rate}")), "{answer}");
    session.send_dtmf('5').expect("digit queued");
    assert_eq!(peer.next_digit().await, Ok('5'), "the plain peer gets our digit through rtpengine");
    peer.send_digit('9').await.expect("the plain peer sends a digit");
    let got = wait_for(&mut port, "the plain peer's digit", |e| matches!(e, MediaEvent::Dtmf(_))).await;
    assert_eq!(got, MediaEvent::Dtmf(DtmfEvent::Began('9')), "we get the plain peer's digit through rtpengine");

    rtpengine
        .request(Value::dict([
            ("command", "delete".into()),
            ("call-id", call_id.into()),
            ("from-tag", "warmline".into()),
        ]))
        .await
        .expect("rtpengine deletes the call");
    session.close().await.expect("close");
}

fn plain_answer_has(sdp: &str, codec: &str) -> bool {
    sdp.lines().any(|l| l.starts_with("a=rtpmap:") && l.contains(codec))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_rtpengine_webrtc_offer_to_plain_rtp_opus() {
    webrtc_offer_to_plain_rtp(Codec::Opus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_rtpengine_webrtc_offer_to_plain_rtp_pcmu() {
    webrtc_offer_to_plain_rtp(Codec::Pcmu).await;
}

/// Two WebRTC sessions with rtpengine anchoring the media between them, as
/// an SBC in front of WebRTC clients does: each side does ICE and DTLS-SRTP
/// with rtpengine only. Our offer must not read as a hold to a media relay
/// (RFC 3264 8.4's `c=0.0.0.0`: the `m=`/`c=` lines carry the default
/// candidate, RFC 8839 5.1), and we must answer rtpengine's own offer (no
/// BUNDLE group, `a=rtcp`, two candidate components) with live media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_rtpengine_anchors_webrtc_to_webrtc() {
    let mut rtpengine = Rtpengine::start().expect("rtpengine should start (package rtpengine-daemon)");
    let (alice, mut a) = MediaSession::new(MediaConfig::loopback()).await.expect("alice's session");
    let (bob, mut b) = MediaSession::new(MediaConfig::loopback()).await.expect("bob's session");
    let call_id = format!("warmline-anchored-{}", std::process::id());

    let offer = alice.create_offer().await.expect("alice's offer");
    assert!(!offer.contains("c=IN IP4 0.0.0.0"), "the offer names its default candidate:\n{offer}");
    let relayed_offer = anchor(&mut rtpengine, "offer", &call_id, None, offer).await;
    assert!(relayed_offer.contains("a=sendrecv"), "not a hold:\n{relayed_offer}");
    let answer = bob.accept_offer(&relayed_offer).await.expect("bob answers rtpengine's offer");
    assert!(!answer.contains("m=audio 0 "), "bob accepts the audio:\n{relayed_offer}\n---\n{answer}");
    let relayed_answer = anchor(&mut rtpengine, "answer", &call_id, Some("bob"), answer).await;
    alice.accept_answer(&relayed_answer).await.expect("alice applies rtpengine's answer");

    let _tones = (play_tone(a.input.clone(), OUR_TONE), play_tone(b.input.clone(), PEER_TONE));
    wait_for(&mut a, "alice: ICE + DTLS to rtpengine", |e| *e == MediaEvent::Connected).await;
    wait_for(&mut b, "bob: ICE + DTLS to rtpengine", |e| *e == MediaEvent::Connected).await;
    let (alice_hears, bob_hears) = tokio::join!(share_heard(&mut a, PEER_TONE), share_heard(&mut b, OUR_TONE));
    eprintln!("through rtpengine: alice hears bob in {alice_hears:.3}, bob hears alice in {bob_hears:.3}");
    assert!(alice_hears >= 0.98, "alice hears bob through rtpengine: {alice_hears}");
    assert!(bob_hears >= 0.98, "bob hears alice through rtpengine: {bob_hears}");
    let relayed = rtpengine.relayed().await.expect("rtpengine query");
    assert!(relayed.iter().any(|(id, n)| *id == call_id && *n > 0), "the packets went through rtpengine: {relayed:?}");
    alice.close().await.expect("close alice");
    bob.close().await.expect("close bob");
}

/// rtpengine's rewrite of `sdp` (an `offer` from alice or an `answer` from
/// bob) with WebRTC on both sides, as Kamailio's config asks for it.
async fn anchor(rtpengine: &mut Rtpengine, command: &str, call_id: &str, to_tag: Option<&str>, sdp: String) -> String {
    let mut request = Value::dict([
        ("command", command.into()),
        ("call-id", call_id.into()),
        ("from-tag", "alice".into()),
        ("sdp", sdp.into()),
        ("transport-protocol", "UDP/TLS/RTP/SAVPF".into()),
        ("ICE", "force".into()),
        ("SDES", ["off"].into()),
        ("replace", ["origin", "session-connection"].into()),
    ]);
    if let (Some(tag), Value::Dict(d)) = (to_tag, &mut request) {
        d.insert(b"to-tag".to_vec(), tag.into());
    }
    let reply = rtpengine.request(request).await.unwrap_or_else(|e| panic!("rtpengine refused the {command}: {e}"));
    sdp_of(&reply).unwrap_or_else(|e| panic!("rtpengine's {command}: {e}"))
}
