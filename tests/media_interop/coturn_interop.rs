//! A relay-only ICE call through Debian's coturn: both sessions use ICE
//! transport policy `relay`, so the only candidates are allocations on the
//! TURN server, and media must flow relay to relay.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use warmline_e2e::daemon::{self, Daemon};
use warmline_media::session::{CandidateKind, IceServer, MediaConfig, MediaEvent, MediaSession};

use crate::call::{play_tone, share_heard, wait_for};

const USER: &str = "warmline";
const PASSWORD: &str = "interop-secret";

/// A running `turnserver` on 127.0.0.1 with one long-term user.
pub struct Coturn {
    daemon: Daemon,
    /// UDP and TCP.
    pub port: u16,
    /// TLS, with a certificate for 127.0.0.1 made for this run.
    pub tls_port: u16,
    /// That certificate (DER), to trust.
    pub certificate: Vec<u8>,
    /// The ports coturn relays from.
    pub relay_ports: std::ops::RangeInclusive<u16>,
}

/// A self-signed certificate for 127.0.0.1 in `dir` (PEM key and
/// certificate for coturn); returns the certificate as DER.
fn make_certificate(dir: &std::path::Path) -> Result<Vec<u8>, String> {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr))),
            Err(e) => Err(format!("openssl: {e}")),
        }
    };
    // A leaf, not a CA: rustls refuses a CA certificate as the server's own.
    let request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem \
                   -days 1 -subj /CN=warmline-test-turn -addext subjectAltName=IP:127.0.0.1 \
                   -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth";
    run(&request.split_whitespace().collect::<Vec<_>>())?;
    run(&["x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der"])?;
    std::fs::read(dir.join("cert.der")).map_err(|e| format!("cert.der: {e}"))
}

impl Coturn {
    pub fn start() -> Result<Self, String> {
        let dir = Daemon::dir_for("coturn")?;
        let port = daemon::free_port()?;
        let tls_port = daemon::free_port()?;
        let certificate = make_certificate(dir.path())?;
        let (min, max) = daemon::port_range(200);
        let file = |name: &str| dir.path().join(name).display().to_string();
        let args = vec![
            "-n".to_owned(), // no configuration file
            "--no-cli".into(),
            "--listening-ip=127.0.0.1".into(),
            "--relay-ip=127.0.0.1".into(),
            format!("--listening-port={port}"),
            format!("--tls-listening-port={tls_port}"),
            format!("--cert={}", file("cert.pem")),
            format!("--pkey={}", file("key.pem")),
            format!("--min-port={min}"),
            format!("--max-port={max}"),
            "--lt-cred-mech".into(),
            format!("--user={USER}:{PASSWORD}"),
            "--realm=warmline.test".into(),
            "--allow-loopback-peers".into(),
            "--no-dtls".into(),
            "--fingerprint".into(),
            format!("--userdb={}", file("turndb")),
            format!("--pidfile={}", file("turnserver.pid")),
            format!("--log-file={}", file("turnserver.log")),
            "--simple-log".into(),
        ];
        let mut daemon = Daemon::start("coturn", dir, "turnserver", &args)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        daemon.wait_ready(Duration::from_secs(15), || stun_binding_answered(addr))?;
        Ok(Self { daemon, port, tls_port, certificate, relay_ports: min..=max })
    }

    /// The server as a client configures it: `udp`, `tcp` or `tls`.
    pub fn ice_server(&self, transport: &str) -> IceServer {
        let url = match transport {
            "tls" => format!("turns:127.0.0.1:{}?transport=tcp", self.tls_port),
            t => format!("turn:127.0.0.1:{}?transport={t}", self.port),
        };
        IceServer { urls: vec![url], username: USER.into(), credential: PASSWORD.into() }
    }

    pub fn log_tail(&self) -> String {
        self.daemon.log_tail()
    }
}

/// Whether a STUN Binding request to `addr` gets a success response.
fn stun_binding_answered(addr: SocketAddr) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    request.extend_from_slice(b"warmline-tid");
    if socket.send_to(&request, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(socket.recv(&mut buf), Ok(n) if n >= 20 && buf[..2] == [0x01, 0x01] && &buf[8..20] == b"warmline-tid")
}

/// Alice and Bob, both relay-only through `transport` to coturn, each hear
/// the other's tone, and each side's half of the selected pair is one of
/// coturn's relay addresses.
async fn relay_only_call(transport: &str) {
    let turn = Coturn::start().expect("coturn should start (package coturn)");
    let config = || MediaConfig {
        relay_only: true,
        ice_servers: vec![turn.ice_server(transport)],
        turn_tls_roots: vec![turn.certificate.clone()],
        ..MediaConfig::loopback()
    };
    let (alice, mut a) = MediaSession::new(config()).await.expect("alice");
    let (bob, mut b) = MediaSession::new(config()).await.expect("bob");

    let offer = alice.create_offer().await.expect("offer");
    assert!(
        offer.contains("typ relay"),
        "a relay candidate from coturn over {transport}:\n{offer}\n{}",
        turn.log_tail()
    );
    assert!(!offer.contains("typ host"), "relay policy offers no host candidate:\n{offer}");
    let answer = bob.accept_offer(&offer).await.expect("answer");
    assert!(answer.contains("typ relay") && !answer.contains("typ host"), "{answer}");
    alice.accept_answer(&answer).await.expect("apply answer");

    let _tones = [play_tone(a.input.clone(), 600.0), play_tone(b.input.clone(), 1000.0)];
    wait_for(&mut a, "alice connected through the relay", |e| *e == MediaEvent::Connected).await;
    wait_for(&mut b, "bob connected through the relay", |e| *e == MediaEvent::Connected).await;
    let (alice_hears, bob_hears) = tokio::join!(share_heard(&mut a, 1000.0), share_heard(&mut b, 600.0));
    eprintln!("relay-only over {transport}: alice hears bob in {alice_hears:.3}, bob hears alice in {bob_hears:.3}");

    // Each side's own half of the selected pair is a relay, so the pair
    // is relay to relay (webrtc 0.21 does not report the far half).
    for (who, session) in [("alice", &alice), ("bob", &bob)] {
        let path = session.selected_path().await.unwrap_or_else(|| panic!("{who} has a selected candidate pair"));
        eprintln!("{who}: {path:?}");
        assert_eq!(path.local, CandidateKind::Relay, "{who} sends through its TURN allocation: {path:?}");
        let port = path.local_address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(0);
        assert!(turn.relay_ports.contains(&port), "{who}'s relay address is one of coturn's: {path:?}");
        if let Some((remote, _)) = path.remote {
            assert_eq!(remote, CandidateKind::Relay, "{who}: {path:?}");
        }
    }
    assert!(alice_hears >= 0.98, "alice hears bob through coturn over {transport}: {alice_hears}");
    assert!(bob_hears >= 0.98, "bob hears alice through coturn over {transport}: {bob_hears}");
    alice.close().await.expect("close");
    bob.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_coturn_relay_only_call_over_udp() {
    relay_only_call("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_coturn_relay_only_call_over_tcp() {
    relay_only_call("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_coturn_relay_only_call_over_tls() {
    relay_only_call("tls").await;
}
