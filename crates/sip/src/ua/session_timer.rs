//! Session timers (RFC 4028): Session-Expires and Min-SE negotiation, the
//! refresher's refresh at half the interval (UPDATE when the peer allows
//! it, else a re-INVITE with the current SDP), the other side's BYE when no
//! refresh came, and the 422 retry.

use std::time::{Duration, Instant};

use super::UserAgent;
use super::call::Purpose;
use super::config::SessionTimers;
use super::event::{CallId, EndReason};
use crate::message::scan::{parse_digits, trim_wsp};
use crate::message::{HeaderName, Headers, Method, Request, Response};

/// RFC 4028 4: no interval below 90 seconds.
pub(crate) const MIN_SE_FLOOR: u32 = 90;

/// Which side of the transaction that set the timer refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresher {
    Uac,
    Uas,
}

/// A Session-Expires value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionExpires {
    pub(crate) interval: u32,
    pub(crate) refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Reads Session-Expires (or `x`): delta-seconds, then parameters.
    pub(crate) fn read(headers: &Headers) -> Option<Self> {
        let value = headers.get(&HeaderName::SessionExpires)?;
        let mut parts = value.split(';');
        let interval = u32::try_from(parse_digits(trim_wsp(parts.next()?)).ok()?).ok()?;
        let mut refresher = None;
        for p in parts {
            if let Some((name, v)) = p.split_once('=')
                && trim_wsp(name).eq_ignore_ascii_case("refresher")
            {
                refresher = match trim_wsp(v).to_ascii_lowercase().as_str() {
                    "uac" => Some(Refresher::Uac),
                    "uas" => Some(Refresher::Uas),
                    _ => None,
                };
            }
        }
        Some(Self { interval, refresher })
    }

    pub(crate) fn value(&self) -> String {
        match self.refresher {
            Some(Refresher::Uac) => format!("{};refresher=uac", self.interval),
            Some(Refresher::Uas) => format!("{};refresher=uas", self.interval),
            None => self.interval.to_string(),
        }
    }
}

/// Min-SE, if present and readable.
pub(crate) fn min_se(headers: &Headers) -> Option<u32> {
    let v = headers.get(&HeaderName::MinSe)?;
    u32::try_from(parse_digits(trim_wsp(v.split(';').next()?)).ok()?).ok()
}

/// What a UAS decides about an incoming INVITE (RFC 4028 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UasChoice {
    /// No session timer.
    Off,
    /// Use this, with the refresher set.
    On(SessionExpires),
    /// Too small: answer 422 with this Min-SE.
    TooSmall(u32),
}

pub(crate) fn choose_as_uas(
    requested: Option<SessionExpires>,
    peer_supports: bool,
    ours: Option<SessionTimers>,
) -> UasChoice {
    let min = ours.map_or(MIN_SE_FLOOR, |o| o.min_se.max(MIN_SE_FLOOR));
    match requested {
        Some(se) if se.interval < min => UasChoice::TooSmall(min),
        Some(se) => {
            // A peer without "timer" cannot refresh: we must (9).
            let refresher = match (peer_supports, se.refresher) {
                (false, _) => Refresher::Uas,
                (true, Some(r)) => r,
                (true, None) => Refresher::Uac,
            };
            UasChoice::On(SessionExpires { interval: se.interval, refresher: Some(refresher) })
        }
        None => match ours {
            Some(o) => UasChoice::On(SessionExpires {
                interval: o.interval.max(min),
                refresher: Some(if peer_supports { Refresher::Uac } else { Refresher::Uas }),
            }),
            None => UasChoice::Off,
        },
    }
}

/// One session's running timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    pub(crate) interval: u32,
    pub(crate) we_refresh: bool,
    /// When to refresh (if we do) or give up and BYE (if they do).
    pub(crate) due: Instant,
}

impl SessionTimer {
    pub(crate) fn start(now: Instant, interval: u32, we_refresh: bool) -> Self {
        Self { interval, we_refresh, due: now + Self::due_after(interval, we_refresh) }
    }

    /// The refresher refreshes at half the interval (10); the other side
    /// sends BYE the smaller of 32 s and a third of the interval before
    /// the session would expire.
    pub(crate) fn due_after(interval: u32, we_refresh: bool) -> Duration {
        let interval = u64::from(interval);
        if we_refresh {
            Duration::from_secs(interval) / 2
        } else {
            Duration::from_secs(interval - (interval / 3).min(32))
        }
    }

    /// The Session-Expires for a request we send in the dialog.
    pub(crate) fn for_request(&self) -> SessionExpires {
        let refresher = if self.we_refresh { Refresher::Uac } else { Refresher::Uas };
        SessionExpires { interval: self.interval, refresher: Some(refresher) }
    }

    /// The Session-Expires for our 2xx to the peer's request.
    pub(crate) fn for_response(&self) -> SessionExpires {
        let refresher = if self.we_refresh { Refresher::Uas } else { Refresher::Uac };
        SessionExpires { interval: self.interval, refresher: Some(refresher) }
    }
}

impl UserAgent {
    /// Session-Expires and Min-SE for our initial INVITE.
    pub(super) fn session_headers(&self, id: CallId, request: &mut Request) {
        let Some(ours) = self.config.session_timers else { return };
        let min = ours.min_se.max(MIN_SE_FLOOR);
        let interval = self.calls.get(&id).and_then(|c| c.session_interval).unwrap_or(ours.interval).max(min);
        request.headers.push(HeaderName::SessionExpires, interval.to_string());
        request.headers.push(HeaderName::MinSe, min.to_string());
    }

    /// After a 422 to our INVITE: the next one asks for at least its Min-SE.
    /// Returns false when that gives nothing new (then the call fails).
    pub(super) fn raise_session_interval(&mut self, id: CallId, response: &Response) -> bool {
        let Some(wanted) = min_se(&response.headers) else { return false };
        let current = self.config.session_timers.map_or(0, |s| s.interval);
        let Some(call) = self.calls.get_mut(&id) else { return false };
        let asked = call.session_interval.unwrap_or(current);
        if wanted <= asked {
            return false;
        }
        call.session_interval = Some(wanted);
        true
    }

    /// Our INVITE (or re-INVITE, UPDATE) was answered 2xx: its
    /// Session-Expires says who refreshes (7.2); none means no timer.
    pub(super) fn session_from_response(&mut self, now: Instant, id: CallId, response: &Response) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.session = SessionExpires::read(&response.headers).map(|se| {
            let we_refresh = se.refresher != Some(Refresher::Uas);
            // Nothing below the RFC floor, whatever a peer writes.
            SessionTimer::start(now, se.interval.max(MIN_SE_FLOOR), we_refresh)
        });
    }

    /// The peer's re-INVITE or UPDATE is a refresh (whatever else it is):
    /// it may move the refresher role; the timer restarts when we answer.
    pub(super) fn session_from_request(&mut self, now: Instant, id: CallId, request: &Request) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let requested = SessionExpires::read(&request.headers);
        call.session = match (call.session, requested) {
            (Some(current), Some(se)) => {
                let we_refresh = match se.refresher {
                    Some(Refresher::Uac) => false,
                    Some(Refresher::Uas) => true,
                    None => current.we_refresh,
                };
                Some(SessionTimer::start(now, se.interval.max(MIN_SE_FLOOR), we_refresh))
            }
            (Some(current), None) => Some(SessionTimer::start(now, current.interval, current.we_refresh)),
            (None, Some(se)) => {
                Some(SessionTimer::start(now, se.interval.max(MIN_SE_FLOOR), se.refresher == Some(Refresher::Uas)))
            }
            (None, None) => None,
        };
    }

    /// Adds Session-Expires (and Require: timer when the peer refreshes)
    /// to our 2xx for a dialog with a running timer.
    pub(super) fn session_response_headers(&self, id: CallId, response: &mut Response) {
        let Some(timer) = self.calls.get(&id).and_then(|c| c.session) else { return };
        let se = timer.for_response();
        response.headers.push(HeaderName::SessionExpires, se.value());
        if se.refresher == Some(Refresher::Uac) {
            response.headers.push(HeaderName::Require, "timer");
        }
    }

    /// Session-Expires on a re-INVITE or UPDATE we send.
    pub(super) fn session_request_headers(&self, id: CallId, request: &mut Request) {
        let Some(timer) = self.calls.get(&id).and_then(|c| c.session) else { return };
        request.headers.push(HeaderName::SessionExpires, timer.for_request().value());
        request.headers.push(HeaderName::Supported, "timer");
    }

    pub(super) fn session_timeout(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(timer) = call.session.filter(|t| t.due <= now) else { return };
        if !timer.we_refresh {
            return self.bye_call(now, id, EndReason::SessionExpired, None);
        }
        // Refresh now; if another re-offer is in flight it refreshes too,
        // so look again shortly.
        call.session = Some(SessionTimer { due: now + Duration::from_secs(2), ..timer });
        let use_update = self.config.session_timers.is_none_or(|s| s.prefer_update) && call.peer.update;
        let offer = call.local_sdp.clone();
        let sent = if use_update {
            self.send_reoffer(now, id, Method::Update, Purpose::Refresh, None)
        } else {
            self.send_reoffer(now, id, Method::Invite, Purpose::Refresh, offer)
        };
        if sent.is_ok()
            && let Some(call) = self.calls.get_mut(&id)
        {
            // Until the 2xx restarts it, wait out the rest of the interval.
            let left = Duration::from_secs(u64::from(timer.interval)) / 2;
            call.session = Some(SessionTimer { due: now + left, we_refresh: false, ..timer });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(se: &str) -> Headers {
        let mut h = Headers::new();
        h.push(HeaderName::SessionExpires, se);
        h
    }

    #[test]
    fn session_expires_parses_and_prints() {
        let se = SessionExpires::read(&headers("1800 ; refresher = UAS")).expect("valid");
        assert_eq!(se, SessionExpires { interval: 1800, refresher: Some(Refresher::Uas) });
        assert_eq!(se.value(), "1800;refresher=uas");
        assert_eq!(SessionExpires::read(&headers("90")).map(|s| s.refresher), Some(None));
        assert_eq!(SessionExpires::read(&headers("soon")), None);
        assert_eq!(SessionExpires::read(&headers("99999999999")), None, "over 2^32-1");
    }

    #[test]
    fn refresher_refreshes_at_half_and_the_other_side_gives_up_before_expiry() {
        assert_eq!(SessionTimer::due_after(1800, true), Duration::from_secs(900));
        assert_eq!(SessionTimer::due_after(1800, false), Duration::from_secs(1800 - 32), "min(32, 600) = 32");
        assert_eq!(SessionTimer::due_after(90, false), Duration::from_secs(60), "min(32, 30) = 30");
        assert_eq!(SessionTimer::due_after(91, true), Duration::from_millis(45_500));
        let t0 = Instant::now();
        assert_eq!(SessionTimer::start(t0, 120, false).due, t0 + Duration::from_secs(88));
    }

    #[test]
    fn uas_choice_follows_rfc_4028_section_9() {
        let ours = Some(SessionTimers { interval: 1800, min_se: 300, prefer_update: true });
        let se = |interval, refresher| Some(SessionExpires { interval, refresher });
        assert_eq!(choose_as_uas(se(120, None), true, ours), UasChoice::TooSmall(300), "422 with our Min-SE");
        assert_eq!(choose_as_uas(se(60, None), true, None), UasChoice::TooSmall(90), "never below 90");
        assert_eq!(
            choose_as_uas(se(600, None), true, ours),
            UasChoice::On(SessionExpires { interval: 600, refresher: Some(Refresher::Uac) }),
            "a capable UAC refreshes when it did not say"
        );
        assert_eq!(
            choose_as_uas(se(600, Some(Refresher::Uac)), false, ours),
            UasChoice::On(SessionExpires { interval: 600, refresher: Some(Refresher::Uas) }),
            "a UAC without timer support cannot refresh"
        );
        assert_eq!(
            choose_as_uas(None, true, ours),
            UasChoice::On(SessionExpires { interval: 1800, refresher: Some(Refresher::Uac) })
        );
        assert_eq!(choose_as_uas(None, true, None), UasChoice::Off);
    }

    #[test]
    fn roles_are_named_from_each_transaction_s_side() {
        let t0 = Instant::now();
        let ours = SessionTimer::start(t0, 600, true);
        assert_eq!(ours.for_request().value(), "600;refresher=uac");
        assert_eq!(ours.for_response().value(), "600;refresher=uas");
        let theirs = SessionTimer::start(t0, 600, false);
        assert_eq!(theirs.for_request().value(), "600;refresher=uas");
        assert_eq!(theirs.for_response().value(), "600;refresher=uac");
        let mut h = Headers::new();
        h.push(HeaderName::MinSe, "300");
        assert_eq!(min_se(&h), Some(300));
    }
}
