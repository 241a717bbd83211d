//! Our WebRTC session (ICE, DTLS-SRTP, rtcp-mux) calls a plain RTP/AVP
//! peer through rtpengine, which terminates ICE and DTLS-SRTP on our side
//! and speaks plain RTP on the other, as an SBC in front of a contact
//! center does. Each side must hear the other's tone in at least 98% of
//! 20 ms windows after setup.

use warmline_media::dtmf::DtmfEvent;
use warmline_media::session::{MediaConfig, MediaEvent, MediaSession};

use crate::bencode::Value;
use crate::call::{MEASURED_FRAMES, SETTLE_FRAMES, play_tone, share_heard, wait_for};
use crate::plain_rtp::{Codec, PlainRtpPeer};
use crate::rtpengine::{Rtpengine, sdp_of};

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
