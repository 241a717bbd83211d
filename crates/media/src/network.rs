//! Network changes: the host's addresses that can carry media, and a
//! watcher that says when that set changes (Wi-Fi to Ethernet, a VPN coming
//! up, a laptop waking on another network), so that calls restart ICE
//! (RFC 8445 section 9) on the new path instead of going silent.
//!
//! [`NetworkWatch`] is the decision, without I/O: fed snapshots of the
//! host's addresses, it says whether media paths may have changed.
//! [`watch`] runs it on a thread of its own over the operating system's
//! change notifications (netlink on Linux, `NotifyIpInterfaceChange` on
//! Windows; a two-second poll where neither exists).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;

/// The host's media-capable addresses, by interface name.
pub type Addresses = BTreeSet<(String, IpAddr)>;

/// What changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkChange {
    /// Addresses that went away: a path using one of them is dead.
    pub gone: Vec<(String, IpAddr)>,
    /// Addresses that appeared where there was none of their kind before
    /// (a new interface, or the first IPv4 address on one).
    pub new: Vec<(String, IpAddr)>,
}

impl std::fmt::Display for NetworkChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[(String, IpAddr)]| v.iter().map(|(n, ip)| format!("{n} {ip}")).collect::<Vec<_>>().join(", ");
        match (self.gone.is_empty(), self.new.is_empty()) {
            (false, false) => write!(f, "gone: {}; new: {}", list(&self.gone), list(&self.new)),
            (false, true) => write!(f, "gone: {}", list(&self.gone)),
            _ => write!(f, "new: {}", list(&self.new)),
        }
    }
}

/// Decides, snapshot by snapshot, whether media paths may have changed.
#[derive(Debug, Clone)]
pub struct NetworkWatch {
    last: Addresses,
}

impl NetworkWatch {
    /// Starts from the addresses the host has now.
    pub fn new(initial: Addresses) -> Self {
        Self { last: initial }
    }

    /// The next snapshot; `Some` when calls should restart ICE. A gone
    /// address always counts. A new one counts unless its interface
    /// already had an address of the same family: an IPv6 privacy address
    /// rotating in, or a second address on a link, changes no path.
    pub fn observe(&mut self, now: Addresses) -> Option<NetworkChange> {
        let gone: Vec<_> = self.last.difference(&now).cloned().collect();
        let had = |name: &str, ip: &IpAddr| self.last.iter().any(|(n, i)| n == name && i.is_ipv4() == ip.is_ipv4());
        let new: Vec<_> = now.difference(&self.last).filter(|(n, ip)| !had(n, ip)).cloned().collect();
        self.last = now;
        (!gone.is_empty() || !new.is_empty()).then_some(NetworkChange { gone, new })
    }
}

/// The addresses among `interfaces` that can carry media to another host:
/// up, not loopback, not IPv6 link-local (which never reaches an SBC).
pub fn media_addresses(interfaces: impl IntoIterator<Item = if_addrs::Interface>) -> Addresses {
    interfaces
        .into_iter()
        .filter(|i| i.oper_status != if_addrs::IfOperStatus::Down && !i.is_loopback())
        .filter(|i| !matches!(i.ip(), IpAddr::V6(v6) if v6.is_unicast_link_local()))
        .map(|i| (i.name.clone(), i.ip()))
        .collect()
}

/// The host's media-capable addresses now.
pub fn host_addresses() -> std::io::Result<Addresses> {
    Ok(media_addresses(if_addrs::get_if_addrs()?))
}

/// Watches the host's addresses on a thread of its own; each change that
/// matters ([`NetworkWatch::observe`]) comes on the receiver. The thread
/// ends once the receiver is dropped (within `poll`).
pub fn watch(poll: Duration) -> std::io::Result<mpsc::Receiver<NetworkChange>> {
    let (tx, rx) = mpsc::channel(8);
    let mut watch = NetworkWatch::new(host_addresses()?);
    std::thread::Builder::new().name("warmline-network".into()).spawn(move || {
        let mut notifier = notifier();
        while !tx.is_closed() {
            match &mut notifier {
                // Woken by the OS (or the timeout, to notice a dropped receiver).
                Some(n) => match n.wait(Some(poll)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        tracing::warn!("network change notifications stopped ({e}); polling instead");
                        notifier = None;
                    }
                },
                // The OS offers no notification here: a slow poll.
                None => std::thread::sleep(poll),
            }
            match host_addresses() {
                Ok(now) => {
                    if let Some(change) = watch.observe(now) {
                        tracing::info!("network changed: {change}");
                        if tx.blocking_send(change).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!("listing network interfaces: {e}"),
            }
        }
    })?;
    Ok(rx)
}

#[cfg(any(target_os = "linux", target_os = "android", windows))]
fn notifier() -> Option<if_addrs::IfChangeNotifier> {
    if_addrs::IfChangeNotifier::new()
        .map_err(|e| tracing::warn!("no network change notifications ({e}); polling instead"))
        .ok()
}

/// Where `if-addrs` has no notifier (macOS, the BSDs) the watch polls.
#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
fn notifier() -> Option<Polling> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
struct Polling;

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
impl Polling {
    fn wait(&mut self, _: Option<Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[(&str, &str)]) -> Addresses {
        list.iter().map(|(n, ip)| ((*n).to_owned(), ip.parse().expect("ip"))).collect()
    }

    #[test]
    fn moving_from_wifi_to_ethernet_is_a_change() {
        let mut w = NetworkWatch::new(addrs(&[("wlan0", "192.168.1.20")]));
        let change = w.observe(addrs(&[("eth0", "10.0.0.7")])).expect("a change");
        assert_eq!(change.gone, vec![("wlan0".to_owned(), "192.168.1.20".parse().expect("ip"))]);
        assert_eq!(change.new, vec![("eth0".to_owned(), "10.0.0.7".parse().expect("ip"))]);
        assert_eq!(change.to_string(), "gone: wlan0 192.168.1.20; new: eth0 10.0.0.7");
        assert_eq!(w.observe(addrs(&[("eth0", "10.0.0.7")])), None, "the same snapshot again is no change");
    }

    #[test]
    fn a_vpn_coming_up_or_an_address_going_away_is_a_change() {
        let mut w = NetworkWatch::new(addrs(&[("eth0", "10.0.0.7")]));
        let up = w.observe(addrs(&[("eth0", "10.0.0.7"), ("tun0", "172.16.0.2")])).expect("vpn up");
        assert!(up.gone.is_empty() && up.new.len() == 1, "{up:?}");
        let down = w.observe(addrs(&[("eth0", "10.0.0.7")])).expect("vpn down");
        assert_eq!(down.to_string(), "gone: tun0 172.16.0.2");
    }

    #[test]
    fn a_rotating_ipv6_privacy_address_or_a_second_address_is_no_change() {
        let mut w = NetworkWatch::new(addrs(&[("eth0", "10.0.0.7"), ("eth0", "2001:db8::1")]));
        assert_eq!(w.observe(addrs(&[("eth0", "10.0.0.7"), ("eth0", "2001:db8::1"), ("eth0", "2001:db8::2")])), None);
        assert_eq!(
            w.observe(addrs(&[
                ("eth0", "10.0.0.7"),
                ("eth0", "10.0.0.8"),
                ("eth0", "2001:db8::1"),
                ("eth0", "2001:db8::2")
            ])),
            None
        );
        let first_v6 = NetworkWatch::new(addrs(&[("eth0", "10.0.0.7")]))
            .observe(addrs(&[("eth0", "10.0.0.7"), ("eth0", "2001:db8::1")]));
        assert!(first_v6.is_some(), "the first IPv6 address on a link opens a path");
    }

    #[test]
    fn loopback_down_and_link_local_addresses_carry_no_media() {
        let interface = |name: &str, ip: &str, status| {
            let addr = match ip.parse::<IpAddr>().expect("ip") {
                IpAddr::V4(ip) => if_addrs::IfAddr::V4(if_addrs::Ifv4Addr {
                    ip,
                    netmask: [255, 255, 255, 0].into(),
                    prefixlen: 24,
                    broadcast: None,
                }),
                IpAddr::V6(ip) => if_addrs::IfAddr::V6(if_addrs::Ifv6Addr {
                    ip,
                    netmask: std::net::Ipv6Addr::UNSPECIFIED,
                    prefixlen: 64,
                    broadcast: None,
                }),
            };
            if_addrs::Interface {
                name: name.to_owned(),
                addr,
                index: None,
                oper_status: status,
                is_p2p: false,
                #[cfg(windows)]
                adapter_name: String::new(),
            }
        };
        let up = || if_addrs::IfOperStatus::Up;
        let kept = media_addresses([
            interface("lo", "127.0.0.1", up()),
            interface("eth0", "10.0.0.7", up()),
            interface("eth0", "fe80::1", up()),
            interface("wlan0", "192.168.1.20", if_addrs::IfOperStatus::Down),
        ]);
        assert_eq!(kept, addrs(&[("eth0", "10.0.0.7")]));
    }

    #[test]
    fn this_host_can_be_listed() {
        // Whatever the machine has: listing must work and never include loopback.
        let now = host_addresses().expect("interfaces");
        assert!(now.iter().all(|(_, ip)| !ip.is_loopback()), "{now:?}");
    }
}
