//! Authorization code + PKCE through the system browser and a loopback
//! redirect (RFC 8252): the one sign-in that works with Entra's MFA and
//! conditional access for a desktop app.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, RedirectUrl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info};
use url::Url;

use super::{Entra, Session, token_error};
use crate::Error;

/// Opens the authorize URL for the user. The default is the system browser;
/// tests use one that follows the test server's consent redirect.
pub trait Opener: Send + Sync + fmt::Debug {
    /// Shows `url` to the user. Must not wait for the sign-in to finish.
    fn open(&self, url: &Url) -> Result<(), Error>;
}

/// The user's browser: the `BROWSER` environment variable (a `:`-separated
/// list of commands, `%s` replaced by the URL), else the platform's opener.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBrowser;

impl Opener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), Error> {
        let browser = std::env::var("BROWSER").ok();
        let mut tried = Vec::new();
        for argv in browser_commands(browser.as_deref(), url.as_str()) {
            let Some((program, args)) = argv.split_first() else { continue };
            match Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(mut child) => {
                    // Reap it in the background so it does not linger as a zombie.
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Err(e) => tried.push(format!("{program}: {e}")),
            }
        }
        Err(Error::Opener(format!(
            "no browser could be started ({}); set BROWSER or use the device code sign-in",
            tried.join("; ")
        )))
    }
}

/// The commands to try, in order.
fn browser_commands(browser: Option<&str>, url: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for cmd in browser.unwrap_or_default().split(':').map(str::trim).filter(|c| !c.is_empty()) {
        let mut argv: Vec<String> = cmd.split_whitespace().map(|w| w.replace("%s", url)).collect();
        if !cmd.contains("%s") {
            argv.push(url.to_string());
        }
        out.push(argv);
    }
    let platform: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(target_os = "windows") {
        &["rundll32", "url.dll,FileProtocolHandler"]
    } else {
        &["xdg-open"]
    };
    let mut argv: Vec<String> = platform.iter().map(|s| s.to_string()).collect();
    argv.push(url.to_string());
    out.push(argv);
    out
}

impl Entra {
    /// Signs in through the browser: authorization code with PKCE (S256), a
    /// random `state`, and a one-shot listener on a random loopback port.
    pub async fn sign_in_browser(&self, opener: &dyn Opener) -> Result<Session, Error> {
        let host = &self.config.redirect_host;
        let ip: IpAddr = match host.trim_matches(['[', ']']) {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => {
                other.parse().map_err(|_| Error::Config(format!("redirect_host {host} is not a loopback address")))?
            }
        };
        if !ip.is_loopback() {
            return Err(Error::Config(format!("redirect_host {host} is not a loopback address")));
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| Error::Network(format!("could not listen for the sign-in redirect: {e}")))?;
        let port = listener.local_addr().map_err(|e| Error::Network(e.to_string()))?.port();
        let redirect = RedirectUrl::new(format!("http://{host}:{port}/"))
            .map_err(|e| Error::Config(format!("redirect URI: {e}")))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth
            .authorize_url(CsrfToken::new_random)
            .set_redirect_uri(Cow::Borrowed(&redirect))
            .add_scopes(self.scopes())
            .set_pkce_challenge(challenge)
            .add_extra_param("response_mode", "query")
            .url();
        info!(port, "opening the browser for Microsoft 365 sign-in");
        opener.open(&url)?;
        let wait = Duration::from_secs(self.config.sign_in_timeout_secs);
        let code = tokio::time::timeout(wait, accept_redirect(&listener, state.secret()))
            .await
            .map_err(|_| Error::SignInTimedOut { waited: wait })??;
        let issued_at = Instant::now();
        let token = self
            .oauth
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Borrowed(&redirect))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        self.finish(token, issued_at).await
    }
}

/// What the browser is shown after the redirect.
const DONE_PAGE: &str = "<!doctype html><title>Warmline</title><p>Signed in to Warmline. You can close this tab.</p>";

/// Waits for the redirect carrying the code. Other paths (a favicon) get a
/// 404 and waiting goes on; a wrong `state` ends the sign-in, since it means
/// the redirect did not come from the request we made. Connections are read
/// side by side: browsers open spare connections that stay silent, and one
/// of those must not hold up the one that carries the code.
async fn accept_redirect(listener: &TcpListener, expected_state: &str) -> Result<AuthorizationCode, Error> {
    let mut reading = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, _) = accepted.map_err(|e| Error::Network(e.to_string()))?;
                reading.spawn(async move {
                    let target = tokio::time::timeout(Duration::from_secs(30), read_request_target(&mut stream)).await;
                    (stream, target.ok().flatten())
                });
            }
            Some(Ok((mut stream, Some(target)))) = reading.join_next() => {
                if let Some(outcome) = handle_redirect(&mut stream, &target, expected_state).await {
                    return outcome;
                }
            }
        }
    }
}

/// Answers one request; `None` when it was not the redirect (keep waiting).
async fn handle_redirect(
    stream: &mut TcpStream,
    target: &str,
    expected_state: &str,
) -> Option<Result<AuthorizationCode, Error>> {
    let Ok(url) = Url::parse("http://loopback").and_then(|base| base.join(target)) else {
        respond(stream, 400, "Bad request").await;
        return None;
    };
    if url.path() != "/" {
        respond(stream, 404, "Not found").await;
        return None;
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(expected_state) {
        respond(stream, 400, "Sign-in failed: the response did not match the request. Try again.").await;
        return Some(Err(Error::StateMismatch));
    }
    if let Some(error) = param("error") {
        respond(stream, 200, "Sign-in was not completed. You can close this tab.").await;
        return Some(Err(Error::SignInRefused { error, description: param("error_description") }));
    }
    let Some(code) = param("code") else {
        respond(stream, 400, "Sign-in failed: no authorization code.").await;
        return Some(Err(Error::Protocol("the sign-in redirect carried neither a code nor an error".into())));
    };
    respond(stream, 200, DONE_PAGE).await;
    Some(Ok(AuthorizationCode::new(code)))
}

/// Reads one request head and returns its target (`/?code=...`), or `None`
/// for anything that is not a GET.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    debug!("sign-in redirect listener got a {method} request");
    (method == "GET").then(|| target.to_string())
}

async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may already be gone; nothing to do about it.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use tokio::task::JoinHandle;

    use super::*;

    #[test]
    fn browser_variable_is_a_list_with_percent_s() {
        let url = "https://login.example/authorize?x=1";
        let cmds = browser_commands(Some("firefox --new-window %s: chromium"), url);
        assert_eq!(cmds[0], vec!["firefox", "--new-window", url]);
        assert_eq!(cmds[1], vec!["chromium", url]);
        assert_eq!(cmds.len(), 3, "the platform opener comes last");
        assert_eq!(browser_commands(None, url).len(), 1);
    }

    /// A listener and a fake browser that sends `requests`, one connection
    /// each (after one silent spare connection when `spare`), and returns
    /// the last response.
    async fn browse(requests: &'static [&'static str], spare: bool) -> (TcpListener, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let browser = tokio::spawn(async move {
            let _spare = if spare { Some(TcpStream::connect(addr).await.expect("preconnect")) } else { None };
            let mut out = String::new();
            for req in requests {
                let mut s = TcpStream::connect(addr).await.expect("connect");
                s.write_all(req.as_bytes()).await.expect("write");
                out.clear();
                let _ = s.read_to_string(&mut out).await;
            }
            out
        });
        (listener, browser)
    }

    #[tokio::test]
    async fn redirect_with_the_wrong_state_is_refused() {
        let (listener, browser) = browse(&["GET /?code=abc&state=forged HTTP/1.1\r\nHost: x\r\n\r\n"], false).await;
        let e = accept_redirect(&listener, "expected").await.expect_err("a forged state must not be accepted");
        assert!(matches!(e, Error::StateMismatch), "{e}");
        assert!(browser.await.expect("join").starts_with("HTTP/1.1 400"));
    }

    #[tokio::test]
    async fn a_silent_spare_connection_does_not_block_the_redirect() {
        let (listener, browser) = browse(&["GET /?code=c&state=s HTTP/1.1\r\n\r\n"], true).await;
        let code = accept_redirect(&listener, "s").await.expect("the code arrives on the second connection");
        assert_eq!(code.secret(), "c");
        assert!(browser.await.expect("join").starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn favicon_is_ignored_and_the_code_is_taken() {
        let requests = &["GET /favicon.ico HTTP/1.1\r\n\r\n", "GET /?code=the-code&state=s1 HTTP/1.1\r\n\r\n"];
        let (listener, browser) = browse(requests, false).await;
        let code = accept_redirect(&listener, "s1").await.expect("code");
        assert_eq!(code.secret(), "the-code");
        assert!(browser.await.expect("join").contains("You can close this tab"));
    }

    #[tokio::test]
    async fn access_denied_is_reported_with_its_description() {
        const DENIED: &str =
            "GET /?error=access_denied&error_description=the+user+canceled+the+authentication&state=s HTTP/1.1\r\n\r\n";
        let (listener, _browser) = browse(&[DENIED], false).await;
        match accept_redirect(&listener, "s").await {
            Err(Error::SignInRefused { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("the user canceled the authentication"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
