//! The user agent's transaction table: which client transaction a response
//! belongs to, which server transaction a request retransmits, and who
//! (which call, which operation) each one serves.
//!
//! A user agent has a handful of transactions at a time, so a vector
//! searched by [`Key`] is as fast as a map and iterates in a fixed order,
//! which keeps simulated runs reproducible.

use std::collections::VecDeque;
use std::time::Instant;

use super::event::{CallId, Event};
use crate::engine::Output;
use crate::message::{Method, Request, Response};
use crate::transaction::{ClientTransaction, Key, Output as TxOutput, ServerTransaction, Timers};

/// A transaction, as the user agent names it internally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxId(u64);

/// What a client transaction was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// The INVITE that sets the call up.
    Invite,
    /// A re-INVITE or UPDATE (hold, resume, media change, refresh).
    Reoffer,
    Bye,
    Cancel,
    Prack,
    Refer,
    Notify,
    Info,
    Options,
}

/// Who waits for a client transaction's responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Call(CallId, Op),
    /// Nobody: a BYE for a stray 2xx, sent and forgotten.
    Nobody,
}

/// Something a transaction hands up to the user agent.
#[derive(Debug)]
pub(crate) enum Up {
    /// A response (a timeout arrives as a 408 made here, RFC 3261 8.1.3.1).
    Response { id: TxId, owner: Owner, response: Response, timed_out: bool },
    /// An ACK for a 2xx that matched the INVITE server transaction.
    Ack { request: Request },
    /// An INVITE server transaction got no ACK for its failure response.
    AckTimeout,
}

#[derive(Debug)]
struct Client {
    id: TxId,
    key: Option<Key>,
    tx: ClientTransaction,
    owner: Owner,
    /// Whether the request carried our credentials for the current nonce.
    authorized: bool,
}

#[derive(Debug)]
struct Server {
    id: TxId,
    key: Option<Key>,
    tx: ServerTransaction,
    call: Option<CallId>,
    /// The status of the last response sent (0 before any).
    status: u16,
}

#[derive(Debug, Default)]
pub(crate) struct Transactions {
    next: u64,
    clients: Vec<Client>,
    servers: Vec<Server>,
    /// Outputs other than bytes met while sending (none are expected),
    /// handed up at the next drain.
    stash: Vec<Up>,
    /// Whether the current flow is reliable (no retransmission timers).
    pub(crate) reliable: bool,
    pub(crate) timers: Timers,
}

type Out = VecDeque<Output<Event>>;

impl Transactions {
    pub(crate) fn new(timers: Timers) -> Self {
        Self { timers, reliable: true, ..Self::default() }
    }

    fn next_id(&mut self) -> TxId {
        self.next += 1;
        TxId(self.next)
    }

    /// Starts a client transaction for `request`.
    pub(crate) fn start_client(
        &mut self,
        now: Instant,
        request: Request,
        owner: Owner,
        authorized: bool,
        out: &mut Out,
    ) -> TxId {
        let id = self.next_id();
        let key = Key::for_sent(&request).ok().flatten();
        let tx = ClientTransaction::new(now, request, self.reliable, self.timers);
        self.clients.push(Client { id, key, tx, owner, authorized });
        self.send_now(id, out);
        id
    }

    /// Moves a transaction's bytes out at once, so that messages leave in
    /// the order the user agent decided them.
    fn send_now(&mut self, id: TxId, out: &mut Out) {
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
            while let Some(o) = c.tx.poll_output() {
                match o {
                    TxOutput::Transmit(bytes) => out.push_back(Output::Transmit(bytes)),
                    TxOutput::Response(response) => {
                        self.stash.push(Up::Response { id, owner: c.owner, response, timed_out: false })
                    }
                    _ => {}
                }
            }
        }
        if let Some(s) = self.servers.iter_mut().find(|s| s.id == id) {
            while let Some(o) = s.tx.poll_output() {
                match o {
                    TxOutput::Transmit(bytes) => out.push_back(Output::Transmit(bytes)),
                    TxOutput::Ack(request) => self.stash.push(Up::Ack { request }),
                    _ => {}
                }
            }
        }
    }

    /// Starts a server transaction for a new request.
    pub(crate) fn start_server(&mut self, now: Instant, request: Request, call: Option<CallId>, out: &mut Out) -> TxId {
        let id = self.next_id();
        let key = Key::for_request(&request).ok().flatten();
        let tx = ServerTransaction::new(now, request, self.reliable, self.timers);
        self.servers.push(Server { id, key, tx, call, status: 0 });
        self.send_now(id, out);
        id
    }

    /// Feeds a response to the client transaction it matches (17.1.3).
    /// Returns false when none does.
    pub(crate) fn client_input(&mut self, now: Instant, response: Response) -> bool {
        let Ok(Some(key)) = Key::for_response(&response) else { return false };
        match self.clients.iter_mut().find(|c| c.key.as_ref() == Some(&key)) {
            Some(c) => {
                c.tx.handle_input(now, response);
                true
            }
            None => false,
        }
    }

    /// Feeds a request to the server transaction it retransmits (or, for an
    /// ACK to a failure, completes). Returns false when none matches.
    pub(crate) fn server_input(&mut self, now: Instant, request: &Request) -> bool {
        let Ok(Some(key)) = Key::for_request(request) else { return false };
        match self.servers.iter_mut().find(|s| s.key.as_ref() == Some(&key)) {
            Some(s) => {
                s.tx.handle_input(now, request.clone());
                true
            }
            None => false,
        }
    }

    /// The INVITE server transaction a CANCEL names.
    pub(crate) fn invite_for_cancel(&self, cancel: &Request) -> Option<TxId> {
        let key = Key::invite_for_cancel(cancel).ok().flatten()?;
        self.servers.iter().find(|s| s.key.as_ref() == Some(&key)).map(|s| s.id)
    }

    pub(crate) fn client_request(&self, id: TxId) -> Option<&Request> {
        self.clients.iter().find(|c| c.id == id).map(|c| c.tx.request())
    }

    pub(crate) fn client_owner(&self, id: TxId) -> Option<Owner> {
        self.clients.iter().find(|c| c.id == id).map(|c| c.owner)
    }

    pub(crate) fn client_authorized(&self, id: TxId) -> bool {
        self.clients.iter().any(|c| c.id == id && c.authorized)
    }

    /// Whether a client transaction is still waiting for a final response.
    pub(crate) fn client_pending(&self, id: TxId) -> bool {
        self.clients.iter().any(|c| c.id == id && matches!(c.tx.state(), "Calling" | "Trying" | "Proceeding"))
    }

    /// Whether the INVITE client transaction has had a provisional response
    /// (so it may be cancelled, RFC 3261 9.1).
    pub(crate) fn client_proceeding(&self, id: TxId) -> bool {
        self.clients.iter().any(|c| c.id == id && c.tx.state() == "Proceeding")
    }

    /// The CANCEL for a pending INVITE client transaction.
    pub(crate) fn cancel_of(&self, id: TxId) -> Option<Request> {
        self.clients.iter().find(|c| c.id == id).map(|c| c.tx.cancel())
    }

    pub(crate) fn server_request(&self, id: TxId) -> Option<&Request> {
        self.servers.iter().find(|s| s.id == id).map(|s| s.tx.request())
    }

    pub(crate) fn server_call(&self, id: TxId) -> Option<CallId> {
        self.servers.iter().find(|s| s.id == id).and_then(|s| s.call)
    }

    pub(crate) fn set_server_call(&mut self, id: TxId, call: CallId) {
        if let Some(s) = self.servers.iter_mut().find(|s| s.id == id) {
            s.call = Some(call);
        }
    }

    /// Whether a server transaction has not sent its final response yet.
    pub(crate) fn server_pending(&self, id: TxId) -> bool {
        self.servers.iter().any(|s| s.id == id && s.status < 200 && !s.tx.is_terminated())
    }

    /// Sends a response on a server transaction.
    pub(crate) fn respond(
        &mut self,
        now: Instant,
        id: TxId,
        response: Response,
        out: &mut Out,
    ) -> Result<(), crate::Error> {
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(crate::Error::TransactionState { state: "Terminated" })?;
        let status = response.status;
        s.tx.respond(now, response)?;
        s.status = s.status.max(status);
        self.send_now(id, out);
        Ok(())
    }

    /// Moves every transaction's outputs out: bytes to `out`, what the user
    /// agent must act on to `ups`.
    pub(crate) fn drain(&mut self, out: &mut Out, ups: &mut Vec<Up>) {
        ups.append(&mut self.stash);
        for c in &mut self.clients {
            while let Some(o) = c.tx.poll_output() {
                match o {
                    TxOutput::Transmit(bytes) => out.push_back(Output::Transmit(bytes)),
                    TxOutput::Response(response) => {
                        ups.push(Up::Response { id: c.id, owner: c.owner, response, timed_out: false })
                    }
                    TxOutput::TimedOut => {
                        let mut response = Response::to_request(c.tx.request(), 408);
                        response.reason = "Request Timeout (no response)".into();
                        ups.push(Up::Response { id: c.id, owner: c.owner, response, timed_out: true });
                    }
                    _ => {}
                }
            }
        }
        for s in &mut self.servers {
            while let Some(o) = s.tx.poll_output() {
                match o {
                    TxOutput::Transmit(bytes) => out.push_back(Output::Transmit(bytes)),
                    TxOutput::Ack(request) => ups.push(Up::Ack { request }),
                    TxOutput::TimedOut => ups.push(Up::AckTimeout),
                    _ => {}
                }
            }
        }
    }

    /// Forgets transactions that are over.
    pub(crate) fn reap(&mut self) {
        self.clients.retain(|c| !c.tx.is_terminated());
        self.servers.retain(|s| !s.tx.is_terminated());
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let clients = self.clients.iter().filter_map(|c| c.tx.poll_timeout());
        let servers = self.servers.iter().filter_map(|s| s.tx.poll_timeout());
        clients.chain(servers).min()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.clients {
            if c.tx.poll_timeout().is_some_and(|t| t <= now) {
                c.tx.handle_timeout(now);
            }
        }
        for s in &mut self.servers {
            if s.tx.poll_timeout().is_some_and(|t| t <= now) {
                s.tx.handle_timeout(now);
            }
        }
    }

    /// The server transactions of a call still waiting for a final
    /// response, with their methods (to answer 487 when the call ends).
    pub(crate) fn pending_servers_of(&self, call: CallId) -> Vec<(TxId, Method)> {
        self.servers
            .iter()
            .filter(|s| s.call == Some(call) && s.status < 200 && !s.tx.is_terminated())
            .map(|s| (s.id, s.tx.request().method.clone()))
            .collect()
    }

    /// How many transactions are alive (for tests and the memory figure).
    pub(crate) fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }
}
