//! Which transaction a message belongs to (RFC 3261 17.1.3 and 17.2.3).

use crate::Error;
use crate::message::{Host, Method, Request, Response};

/// The identity of a transaction: the top Via branch, the sent-by (for
/// server transactions), and the method, with ACK folded into INVITE so the
/// ACK for a non-2xx reaches the INVITE server transaction. CANCEL keeps its
/// own method and so its own transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    branch: String,
    sent_by: Option<(Host, Option<u16>)>,
    method: Method,
}

fn fold_ack(method: &Method) -> Method {
    if *method == Method::Ack { Method::Invite } else { method.clone() }
}

impl Key {
    /// The client transaction a response belongs to (17.1.3): branch and
    /// CSeq method. `None` when the top Via has no branch.
    pub fn for_response(response: &Response) -> Result<Option<Self>, Error> {
        let via = response.headers.top_via()?;
        let method = response.headers.cseq()?.method;
        Ok(via.branch().map(|b| Key { branch: b.to_owned(), sent_by: None, method: fold_ack(&method) }))
    }

    /// The server transaction a request belongs to (17.2.3): branch,
    /// sent-by and method. `None` for an RFC 2543 request (no magic cookie),
    /// which the caller must match the old way or treat as new.
    pub fn for_request(request: &Request) -> Result<Option<Self>, Error> {
        let via = request.headers.top_via()?;
        if !via.has_rfc3261_branch() {
            return Ok(None);
        }
        Ok(via.branch().map(|b| Key {
            branch: b.to_owned(),
            sent_by: Some((via.host.clone(), via.port)),
            method: fold_ack(&request.method),
        }))
    }

    /// The key of the INVITE server transaction a CANCEL names (RFC 3261
    /// 9.2): the same branch and sent-by, with the method INVITE.
    pub fn invite_for_cancel(cancel: &Request) -> Result<Option<Self>, Error> {
        Ok(Self::for_request(cancel)?.map(|k| Key { method: Method::Invite, ..k }))
    }

    /// The key of the client transaction that sent `request`, to look up
    /// when its responses arrive.
    pub fn for_sent(request: &Request) -> Result<Option<Self>, Error> {
        let via = request.headers.top_via()?;
        Ok(via.branch().map(|b| Key { branch: b.to_owned(), sent_by: None, method: fold_ack(&request.method) }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{request, response};
    use super::*;
    use crate::message::HeaderName;

    #[test]
    fn responses_match_the_request_that_was_sent() {
        let invite = request(Method::Invite);
        let sent = Key::for_sent(&invite).expect("valid").expect("has a branch");
        assert_eq!(Key::for_response(&response(&invite, 180)), Ok(Some(sent.clone())));
        let cancel = request(Method::Cancel);
        assert_ne!(Key::for_response(&response(&cancel, 200)), Ok(Some(sent)), "CANCEL is its own transaction");
    }

    #[test]
    fn ack_for_a_failure_matches_the_invite_server_transaction() {
        let invite = Key::for_request(&request(Method::Invite)).expect("valid");
        assert!(invite.is_some());
        assert_eq!(Key::for_request(&request(Method::Ack)).expect("valid"), invite);
        let mut other_host = request(Method::Ack);
        other_host.headers.set(HeaderName::Via, "SIP/2.0/WSS b.invalid;branch=z9hG4bKtest");
        assert_ne!(Key::for_request(&other_host).expect("valid"), invite, "sent-by is part of the key");
    }

    #[test]
    fn cancel_names_the_invite_it_cancels() {
        let invite = Key::for_request(&request(Method::Invite)).expect("valid");
        let cancel = request(Method::Cancel);
        assert_ne!(Key::for_request(&cancel).expect("valid"), invite);
        assert_eq!(Key::invite_for_cancel(&cancel).expect("valid"), invite);
    }

    #[test]
    fn rfc2543_requests_have_no_key() {
        let mut old = request(Method::Invite);
        old.headers.set(HeaderName::Via, "SIP/2.0/UDP old.example.com;branch=1234");
        assert_eq!(Key::for_request(&old), Ok(None));
    }
}
