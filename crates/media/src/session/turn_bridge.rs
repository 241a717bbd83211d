//! TURN over TCP (and TLS) for a transport that speaks TURN over UDP only:
//! webrtc 0.21 skips `?transport=tcp` and `turns:` URLs, yet a locked-down
//! network often lets nothing but TCP (or TLS on 443) out.
//!
//! A bridge per such server listens on a loopback UDP socket, and the
//! transport is told that socket is a UDP TURN server. Each local socket
//! of the transport gets its own connection to the real server, so each
//! allocation keeps its own 5-tuple (RFC 8656 section 3.1); messages are
//! framed as RFC 8656 section 12.5 asks on a stream: a STUN message by its
//! length, ChannelData padded to a multiple of four bytes. The relayed
//! media itself still leaves the TURN server over UDP, as with any TURN
//! client on TCP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::Error;

/// How the bridge reaches the TURN server.
#[derive(Clone)]
pub(crate) enum Carrier {
    /// `turn:host:port?transport=tcp`.
    Tcp,
    /// `turns:host:port`: TLS, the server's name checked against `config`'s roots.
    Tls { name: rustls_pki_types::ServerName<'static>, config: Arc<tokio_rustls::rustls::ClientConfig> },
}

impl std::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Carrier::Tcp => f.write_str("Tcp"),
            Carrier::Tls { name, .. } => f.debug_struct("Tls").field("name", name).finish_non_exhaustive(),
        }
    }
}

/// A TURN server the transport cannot reach itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamTurn {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
}

impl StreamTurn {
    /// `Some` for a TURN URL over TCP or TLS; `None` for UDP, STUN and
    /// anything we cannot read (the transport then judges it).
    pub(crate) fn of_url(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once(':')?;
        let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
        let transport = query.split('&').find_map(|kv| kv.strip_prefix("transport=")).unwrap_or("udp");
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "turns" => true,
            "turn" if transport.eq_ignore_ascii_case("tcp") => false,
            _ => return None,
        };
        let (host, port) = match target.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !target.ends_with(']') => (h, p.parse().ok()?),
            _ => (target, if tls { 5349 } else { 3478 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        (!host.is_empty()).then_some(Self { host, port, tls })
    }
}

/// A running bridge: the address to give the transport.
#[derive(Debug)]
pub(crate) struct TurnBridge {
    pub(crate) local: SocketAddr,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// Starts a bridge to `server` on a loopback UDP port.
pub(crate) async fn start(server: &StreamTurn, carrier: Carrier) -> Result<TurnBridge, Error> {
    let io_err = |e: std::io::Error| Error::Transport { what: "TURN bridge", reason: e.to_string() };
    let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.map_err(io_err)?);
    let local = udp.local_addr().map_err(io_err)?;
    let target = format!("{}:{}", server.host, server.port);
    let task = tokio::spawn(relay(udp, target, carrier));
    Ok(TurnBridge { local, task })
}

/// The stream to the server, TCP or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn connect(target: &str, carrier: &Carrier) -> std::io::Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect(target).await?;
    tcp.set_nodelay(true)?;
    Ok(match carrier {
        Carrier::Tcp => Box::new(tcp),
        Carrier::Tls { name, config } => {
            Box::new(tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name.clone(), tcp).await?)
        }
    })
}

/// Datagrams from each transport socket go to that socket's own connection.
async fn relay(udp: Arc<UdpSocket>, target: String, carrier: Carrier) {
    let mut flows: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf).await else { return };
        let datagram = buf[..n].to_vec();
        let flow = flows.entry(from).or_insert_with(|| flow(Arc::clone(&udp), from, target.clone(), carrier.clone()));
        if flow.try_send(datagram).is_err() && flow.is_closed() {
            // The connection ended: the transport's retransmission opens a new one.
            flows.remove(&from);
        }
    }
}

/// One connection for the transport socket `peer`; ends when either side does.
fn flow(udp: Arc<UdpSocket>, peer: SocketAddr, target: String, carrier: Carrier) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
    tokio::spawn(async move {
        let stream = match tokio::time::timeout(Duration::from_secs(10), connect(&target, &carrier)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return tracing::warn!("TURN server {target} ({carrier:?}) unreachable: {e}"),
            Err(_) => return tracing::warn!("TURN server {target} ({carrier:?}) did not answer within 10 s"),
        };
        let (mut reader, mut writer) = tokio::io::split(stream);
        let upstream = async {
            while let Some(datagram) = rx.recv().await {
                writer.write_all(&datagram).await?;
                let pad = stream_padding(&datagram);
                if pad > 0 {
                    writer.write_all(&[0u8; 3][..pad]).await?;
                }
            }
            Ok::<(), std::io::Error>(())
        };
        let downstream = async {
            loop {
                let frame = read_frame(&mut reader).await?;
                udp.send_to(&frame, peer).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        };
        let ended = tokio::select! { r = upstream => r, r = downstream => r };
        if let Err(e) = ended {
            tracing::debug!("TURN connection to {target} ended: {e}");
        }
    });
    tx
}

/// Zero bytes that follow a ChannelData message on a stream (RFC 8656
/// section 12.5); none after STUN, whose length is a multiple of four.
fn stream_padding(message: &[u8]) -> usize {
    match message.first() {
        Some(b) if b >> 6 == 1 => (4 - message.len() % 4) % 4,
        _ => 0,
    }
}

/// The next STUN or ChannelData message on a stream, without padding.
async fn read_frame(reader: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    reader.read_exact(&mut head).await?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let (rest, pad) = match head[0] >> 6 {
        0 => (16 + len, 0), // STUN: a 20-byte header, then `len` bytes
        1 => (len, (4 - len % 4) % 4),
        _ => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "neither STUN nor ChannelData")),
    };
    let mut frame = vec![0u8; 4 + rest];
    frame[..4].copy_from_slice(&head);
    reader.read_exact(&mut frame[4..]).await?;
    let mut padding = [0u8; 3];
    reader.read_exact(&mut padding[..pad]).await?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_turn_urls_are_recognised() {
        let tcp = StreamTurn::of_url("turn:turn.example.com:3478?transport=tcp");
        assert_eq!(tcp, Some(StreamTurn { host: "turn.example.com".into(), port: 3478, tls: false }));
        let tls = StreamTurn::of_url("turns:turn.example.com:443?transport=tcp");
        assert_eq!(tls, Some(StreamTurn { host: "turn.example.com".into(), port: 443, tls: true }));
        assert_eq!(
            StreamTurn::of_url("turns:[2001:db8::1]").map(|t| (t.host, t.port)),
            Some(("2001:db8::1".into(), 5349))
        );
        assert_eq!(StreamTurn::of_url("turn:10.0.0.1:3478?transport=udp"), None, "UDP is the transport's own");
        assert_eq!(StreamTurn::of_url("turn:10.0.0.1:3478"), None);
        assert_eq!(StreamTurn::of_url("stun:stun.example.com:3478"), None);
        assert_eq!(StreamTurn::of_url("nonsense"), None);
    }

    #[tokio::test]
    async fn stream_framing_splits_stun_and_padded_channel_data() {
        let stun = {
            let mut m = vec![0x01, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42];
            m.extend_from_slice(&[7; 12]);
            m.extend_from_slice(&[1, 2, 3, 4]);
            m
        };
        let channel = vec![0x40, 0x00, 0x00, 0x03, 9, 8, 7];
        assert_eq!((stream_padding(&stun), stream_padding(&channel)), (0, 1));
        let mut wire = stun.clone();
        wire.extend_from_slice(&channel);
        wire.push(0); // ChannelData padding on a stream
        wire.extend_from_slice(&stun);
        let mut reader = &wire[..];
        assert_eq!(read_frame(&mut reader).await.expect("stun"), stun);
        assert_eq!(read_frame(&mut reader).await.expect("channel data"), channel);
        assert_eq!(read_frame(&mut reader).await.expect("stun again"), stun);
        assert!(read_frame(&mut reader).await.is_err(), "the end of the stream");
        assert!(read_frame(&mut &[0xc0, 0, 0, 0][..]).await.is_err(), "garbage is an error, not a panic");
        assert!(read_frame(&mut &stun[..10]).await.is_err(), "a truncated message is an error");
    }
}
