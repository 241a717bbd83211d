//! The Via header (RFC 3261 20.42, 18.2.1; rport from RFC 3581).

use std::fmt;

use super::params::{Params, parse_header_params};
use super::scan::{Cursor, Invalid, is_token, is_token_char};
use super::uri::Host;

/// A transport named in a Via.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other transport token, kept as written (RFC 4475 3.1.1.10).
    Other(String),
}

impl Transport {
    fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "SCTP" => Transport::Sctp,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            _ => Transport::Other(s.to_owned()),
        }
    }

    /// Whether the transport delivers reliably, which switches off request
    /// retransmission timers (RFC 3261 17.1.1.2, 17.1.2.2).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        })
    }
}

/// One Via value: `SIP/2.0/<transport> host[:port];params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The transport.
    pub transport: Transport,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport` ...).
    pub params: Params,
}

/// The RFC 3261 branch prefix that marks a transaction id unique in space
/// and time.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    /// A Via with a branch and no other parameters.
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::default();
        params.push("branch", Some(branch));
        Self { transport, host, port, params }
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }

    /// `None` without `rport`, `Some(None)` for a bare `rport` (a request to
    /// fill it in), `Some(Some(port))` once filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// Whether the branch carries the RFC 3261 magic cookie, so transaction
    /// matching may use it alone (section 17.2.3).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// Parses one Via value (one element of a comma-separated list). The
    /// grammar allows LWS around the slashes and the colon (RFC 4475 3.1.1.1).
    pub(crate) fn parse_str(s: &str) -> Result<Self, Invalid> {
        let mut c = Cursor::new(s);
        c.skip_ws();
        let name = c.take_while(is_token_char);
        c.skip_ws();
        if !c.eat(b'/') {
            return Err("expected SIP/2.0/transport");
        }
        c.skip_ws();
        let version = c.take_while(is_token_char);
        c.skip_ws();
        if !c.eat(b'/') {
            return Err("expected SIP/2.0/transport");
        }
        c.skip_ws();
        let transport = c.take_while(is_token_char);
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err("unsupported protocol version");
        }
        if !is_token(transport) {
            return Err("missing transport");
        }
        if !c.skip_ws() {
            return Err("expected white space before sent-by");
        }
        let (host, port) = parse_sent_by(&mut c)?;
        let params = parse_header_params(&mut c)?;
        Ok(Via { transport: Transport::parse(transport), host, port, params })
    }
}

fn parse_sent_by(c: &mut Cursor<'_>) -> Result<(Host, Option<u16>), Invalid> {
    let (host, port) = Host::parse_hostport(c)?;
    if port.is_some() {
        return Ok((host, port));
    }
    // COLON is SWS ":" SWS here, unlike inside a URI.
    let mut probe = c.clone();
    probe.skip_ws();
    if probe.eat(b':') {
        probe.skip_ws();
        let port = super::uri::parse_port(probe.take_while(|b| b.is_ascii_digit()))?;
        *c = probe;
        return Ok((host, Some(port)));
    }
    Ok((host, None))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_via_with_lws_everywhere() {
        let v = Via::parse_str("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").expect("valid");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::V4("192.0.2.2".parse().expect("ip")));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let w =
            Via::parse_str("SIP / 2.0 / TCP spindle.example.com :  5070 ;  branch  =   z9hG4bK9ikj8").expect("valid");
        assert_eq!(w.port, Some(5070));
        assert!(w.has_rfc3261_branch());
    }

    #[test]
    fn received_and_rport() {
        let v =
            Via::parse_str("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKx;rport;received=192.0.2.1").expect("valid");
        assert_eq!(v.transport, Transport::Wss);
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("192.0.2.1"));
        let mut v = v;
        v.params.set("rport", Some("51234"));
        assert_eq!(v.rport(), Some(Some(51234)));
        assert_eq!(Via::parse_str(&v.to_string()), Ok(v));
    }

    #[test]
    fn malformed_vias_are_rejected() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/7.0/UDP c.example.com",
            "SIP/2.0/UDP",
            "SIP/2.0 host",
            "SIP/2.0/UDPhost",
            "SIP/2.0/UDP host:",
        ] {
            assert!(Via::parse_str(bad).is_err(), "{bad} must be rejected");
        }
    }
}
