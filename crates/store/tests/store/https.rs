//! The REST connector over HTTPS: a CRM behind a private CA, trusted only
//! through `extra_ca_pem`, and reached through an HTTPS (CONNECT) proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use warmline_secrets::Secret;
use warmline_store::rest::{RestConfig, RestConnector};
use warmline_store::sync::{Connector, ConnectorError};
use warmline_store::{CustomerKey, PhoneNormaliser};

use crate::conformance::ada;
use crate::crm::{Crm, CrmServer, TOKEN};

/// A CA of our own and a server certificate for 127.0.0.1 signed by it.
fn private_ca() -> (String, Arc<ServerConfig>) {
    warmline_testkit::private_ca(&["127.0.0.1"])
}

fn connector(server: &CrmServer, extra_ca_pem: Option<String>, https_proxy: Option<String>) -> RestConnector {
    let config = RestConfig {
        base_url: server.base_url(),
        country_code: 44,
        timeout_ms: 5_000,
        extra_ca_pem,
        https_proxy,
        ..RestConfig::default()
    };
    RestConnector::new(config, &Secret::from(TOKEN)).expect("connector")
}

fn ada_key() -> CustomerKey {
    CustomerKey::Phone(PhoneNormaliser::new(44).normalise("020 7946 0018").expect("valid"))
}

/// A minimal CONNECT proxy; counts the tunnels it opened.
async fn connect_proxy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let Some(target) = head.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next()) else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n").await;
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (addr, tunnels)
}

#[tokio::test]
async fn a_crm_behind_a_private_ca_is_trusted_only_through_the_extra_ca() {
    let (ca_pem, tls) = private_ca();
    let server = CrmServer::start_tls(Crm::with_customer(ada()), tls);
    assert!(server.base_url().starts_with("https://"));

    let trusted = connector(&server, Some(ca_pem), None);
    let found = trusted.lookup(&ada_key()).await.expect("lookup over HTTPS").expect("known customer");
    assert_eq!(found.display_name, "Ada Lovelace");

    let untrusted = connector(&server, None, None);
    match untrusted.lookup(&ada_key()).await {
        Err(ConnectorError::Unreachable(why)) => {
            assert!(why.contains("certificate"), "the reason names the certificate: {why}")
        }
        other => panic!("an unknown CA must not be trusted: {other:?}"),
    }
}

#[tokio::test]
async fn https_requests_go_through_the_configured_proxy() {
    let (ca_pem, tls) = private_ca();
    let server = CrmServer::start_tls(Crm::with_customer(ada()), tls);
    let (proxy, tunnels) = connect_proxy().await;
    let crm = connector(&server, Some(ca_pem), Some(format!("http://{proxy}")));
    let found = crm.lookup(&ada_key()).await.expect("lookup through the proxy").expect("known customer");
    assert_eq!(found.crm_id.as_deref(), Some("C-1"));
    assert!(tunnels.load(Ordering::SeqCst) >= 1, "the request went through the proxy's CONNECT tunnel");
}
