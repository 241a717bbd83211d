//! Debian's rtpengine in userspace (`--table=-1`), driven over its ng
//! control protocol: `<cookie> <bencoded dict>` datagrams over UDP.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::daemon::{self, Daemon};

use crate::bencode::Value;

/// A running rtpengine bound to 127.0.0.1.
#[derive(Debug)]
pub struct Rtpengine {
    daemon: Daemon,
    ng: SocketAddr,
    cookie: u64,
}

impl Rtpengine {
    pub fn start() -> Result<Self, String> {
        let dir = Daemon::dir_for("rtpengine")?;
        let ng_port = daemon::free_port()?;
        let (min, max) = daemon::port_range(200);
        let pid = dir.path().join("rtpengine.pid");
        let args = [
            "--config-file=none".to_owned(),
            "--table=-1".into(),
            "--foreground".into(),
            "--interface=127.0.0.1".into(),
            format!("--listen-ng=127.0.0.1:{ng_port}"),
            format!("--port-min={min}"),
            format!("--port-max={max}"),
            format!("--pidfile={}", pid.display()),
            "--log-stderr".into(),
            "--log-level=6".into(),
            "--num-threads=2".into(),
            // A forgotten call goes away on its own.
            "--timeout=30".into(),
            "--delete-delay=0".into(),
        ];
        let mut daemon = Daemon::start("rtpengine", dir, "rtpengine", &args)?;
        let ng = SocketAddr::from(([127, 0, 0, 1], ng_port));
        let mut cookie = 0;
        daemon.wait_ready(Duration::from_secs(15), || {
            cookie += 1;
            ping(ng, cookie)
        })?;
        Ok(Self { daemon, ng, cookie: cookie + 1 })
    }

    /// Sends one command and returns rtpengine's reply dictionary; a
    /// `result` other than `ok` is an error carrying `error-reason`.
    pub async fn request(&mut self, command: Value) -> Result<Value, String> {
        self.cookie += 1;
        let cookie = format!("{}_{}", std::process::id(), self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        command.encode(&mut msg);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| format!("ng socket: {e}"))?;
        socket.send_to(&msg, self.ng).await.map_err(|e| format!("ng send: {e}"))?;
        let mut buf = vec![0u8; 65_536];
        let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .map_err(|_| format!("rtpengine did not answer within 5 s:\n{}", self.daemon.log_tail()))?
            .map_err(|e| format!("ng receive: {e}"))?;
        let reply = &buf[..n];
        let body = reply
            .strip_prefix(cookie.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
            .ok_or_else(|| format!("ng reply with another cookie: {:?}", String::from_utf8_lossy(reply)))?;
        let (value, _) = Value::decode(body)?;
        match value.get("result").and_then(Value::as_str) {
            Some("ok") => Ok(value),
            other => Err(format!(
                "rtpengine refused: result {other:?}, reason {:?}",
                value.get("error-reason").and_then(Value::as_str)
            )),
        }
    }

    /// The ng control address (for Kamailio's `rtpengine_sock`).
    pub fn ng_addr(&self) -> SocketAddr {
        self.ng
    }

    /// The calls rtpengine holds now, each with the RTP packets it relayed
    /// (summed over every stream of every party): proof that media went
    /// through it rather than around it.
    pub async fn relayed(&mut self) -> Result<Vec<(String, i64)>, String> {
        let list = self.request(Value::dict([("command", "list".into())])).await?;
        let ids: Vec<String> = list
            .get("calls")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let mut calls = Vec::new();
        for id in ids {
            let query =
                self.request(Value::dict([("command", "query".into()), ("call-id", id.as_str().into())])).await?;
            let packets = query
                .get("totals")
                .and_then(|t| t.get("RTP"))
                .and_then(|r| r.get("packets"))
                .and_then(Value::as_int)
                .unwrap_or(0);
            calls.push((id, packets));
        }
        Ok(calls)
    }

    pub fn log_tail(&self) -> String {
        self.daemon.log_tail()
    }

    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }
}

/// Whether rtpengine answers `ping` with `pong`.
fn ping(ng: SocketAddr, cookie: u64) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut msg = format!("ping{cookie} ").into_bytes();
    Value::dict([("command", "ping".into())]).encode(&mut msg);
    if socket.send_to(&msg, ng).is_err() {
        return false;
    }
    let mut buf = [0u8; 256];
    let Ok(n) = socket.recv(&mut buf) else { return false };
    let expected = format!("ping{cookie} ");
    buf[..n]
        .strip_prefix(expected.as_bytes())
        .and_then(|body| Value::decode(body).ok())
        .is_some_and(|(v, _)| v.get("result").and_then(Value::as_str) == Some("pong"))
}

/// The SDP body of an `offer` or `answer` reply.
pub fn sdp_of(reply: &Value) -> Result<String, String> {
    reply.get("sdp").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("no sdp in {reply:?}"))
}
