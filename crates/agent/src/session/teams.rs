//! Microsoft 365 in the session: one task (the Teams actor) that owns the
//! sign-in, the expert search, the agent's favourites and the presence
//! poller, and reports through the session's event stream.
//!
//! Why its own task: sign-in waits minutes for the browser and Graph calls
//! take their time; none of that may hold up a call. The session task only
//! forwards `sign_in`, `sign_out`, `experts` and `favourite` here.
//!
//! Why the sans-IO [`Poller`] rather than [`warmline_teams::PollingSource`]:
//! the actor waits on commands and presence together, and a batch must
//! survive a command arriving mid-request (dropping `PollingSource`'s
//! future would leave its poller waiting for a reply forever). So each
//! batch runs in its own small task and its outcome is fed back here.
//!
//! What is kept where: the refresh token only in the OS keyring (the teams
//! crate puts it there); the signed-in account (id, UPN, name: no secret)
//! and the favourites in the app's data directory, so that the next start
//! signs in silently and shows the same favourites.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use warmline_secrets::{Keyring, SecretKind, SecretName};
use warmline_teams::directory::{JsonShortlistStore, Shortlist, ShortlistStore, resolve_dial_target};
use warmline_teams::presence::{Next, Poller, outcome_of};
use warmline_teams::{
    Account, DialConfig, Directory, Entra, Graph, Http, Opener, PresenceApi, PresenceBoard, SystemBrowser, TeamsConfig,
};

use crate::config::Microsoft365Config;
use crate::view::{AccountState, Availability, Expert};
use crate::{AgentCommand, AgentEvent, Error, ErrorPayload};

/// The file (in the tenant's folder) holding who signed in last; not secret.
const ACCOUNT_FILE: &str = "account.json";
/// The file (in the tenant's folder) holding favourites and skill tags.
const SHORTLIST_FILE: &str = "experts.json";

/// Microsoft 365 settings for a session, from `[microsoft365]`.
#[derive(Clone)]
#[non_exhaustive]
pub struct Microsoft365 {
    /// Endpoints, client, presence budget and dial rules.
    pub teams: TeamsConfig,
    /// Where the account and the favourites are kept, one folder per
    /// tenant below it (Graph ids mean nothing in another tenant); the
    /// app's data directory (`<data dir>/warmline`) when `None`.
    pub data_dir: Option<PathBuf>,
    /// The keyring for the refresh token; the OS keyring when `None`.
    pub keyring: Option<Keyring>,
    /// Opens the sign-in page: the system browser (honours `BROWSER`).
    pub opener: Arc<dyn Opener>,
}

impl std::fmt::Debug for Microsoft365 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microsoft365")
            .field("tenant", &self.teams.tenant)
            .field("graph", &self.teams.graph.as_str())
            .field("data_dir", &self.data_dir)
            .field("opener", &self.opener)
            .finish_non_exhaustive()
    }
}

impl Microsoft365 {
    /// Settings from the configuration file. Experts are dialled as E.164
    /// numbers at the SIP `domain` (the Direct Routing SBC the agent
    /// registers with), numbers without `+` in `country_code`.
    pub fn from_config(m: &Microsoft365Config, domain: &str, country_code: u16) -> Result<Self, Error> {
        let url = |text: &str, field: &str| {
            url::Url::parse(text).map_err(|e| Error::Config(format!("`microsoft365.{field}`: {text}: {e}")))
        };
        let mut graph = url(&m.graph, "graph")?;
        // `graph = "https://graph.microsoft.com"` (the file's default) means
        // its v1.0; a base that names a version is taken as it is.
        if graph.path().trim_matches('/').is_empty() {
            graph.set_path("/v1.0");
        }
        let teams = TeamsConfig {
            authority: url(&m.authority, "authority")?,
            tenant: m.tenant.clone(),
            client_id: m.client_id.clone(),
            graph,
            dial: DialConfig {
                sbc_domain: Some(domain.to_owned()),
                default_country_code: Some(country_code.to_string()),
                ..DialConfig::default()
            },
            ..TeamsConfig::default()
        };
        teams.validate().map_err(|e| Error::Config(e.to_string()))?;
        Ok(Microsoft365 { teams, data_dir: None, keyring: None, opener: Arc::new(SystemBrowser) })
    }
}

/// What the session task forwards.
#[derive(Debug)]
enum Request {
    SignIn,
    SignOut,
    Experts(String),
    Favourite { expert: String, on: bool },
}

/// The session task's end of the actor.
#[derive(Debug, Clone)]
pub(super) struct Teams {
    requests: mpsc::UnboundedSender<Request>,
}

impl Teams {
    /// Starts the actor; it tries a silent sign-in at once.
    pub(super) fn spawn(settings: Microsoft365, seed: u64, events: mpsc::UnboundedSender<AgentEvent>) -> Teams {
        let (requests, rx) = mpsc::unbounded_channel();
        tokio::spawn(Actor::new(settings, seed, events).run(rx));
        Teams { requests }
    }

    /// Hands a Microsoft 365 command to the actor. What follows comes as events.
    pub(super) fn command(&self, command: AgentCommand) -> Result<(), Error> {
        let request = match command {
            AgentCommand::SignIn => Request::SignIn,
            AgentCommand::SignOut => Request::SignOut,
            AgentCommand::Experts { query } => Request::Experts(query),
            AgentCommand::Favourite { expert, on } => Request::Favourite { expert, on },
            _ => return Err(Error::Invalid("not a Microsoft 365 command".into())),
        };
        self.requests.send(request).map_err(|_| Error::Teams("the Microsoft 365 task has stopped".into()))
    }
}

/// A signed-in agent's Graph clients.
struct SignedIn {
    session: warmline_teams::Session,
    graph: Graph,
    directory: Directory,
    presence: PresenceApi,
}

type Batch = (u64, Result<Vec<warmline_teams::Presence>, warmline_teams::Error>);

struct Actor {
    settings: Microsoft365,
    events: mpsc::UnboundedSender<AgentEvent>,
    data_dir: Option<PathBuf>,
    /// `None` when the keyring or configuration is unusable (said once, at start).
    entra: Option<Entra>,
    http: Option<Http>,
    keyring: Option<Keyring>,
    signed_in: Option<SignedIn>,
    sign_in: Option<JoinHandle<Result<warmline_teams::Session, warmline_teams::Error>>>,
    /// A restored sign-in's first Graph call (`/me`): is the refresh token still good?
    check: Option<JoinHandle<Result<Account, warmline_teams::Error>>>,
    shortlist: Shortlist,
    /// Everyone the agent can see: favourites and the last search's people.
    known: BTreeMap<String, warmline_teams::Expert>,
    last_query: Option<String>,
    last_results: Vec<String>,
    poller: Poller,
    board: PresenceBoard,
    batch: Option<JoinHandle<Batch>>,
    /// Spreads this agent's polls from others' (the poller's jitter).
    seed: u64,
    throttled: bool,
    shown: Option<AccountState>,
}

impl Actor {
    fn new(settings: Microsoft365, seed: u64, events: mpsc::UnboundedSender<AgentEvent>) -> Actor {
        let tenant: String = settings
            .teams
            .tenant
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .collect();
        let data_dir = settings
            .data_dir
            .clone()
            .or_else(|| dirs::data_dir().map(|d| d.join("warmline")))
            .map(|d| d.join("microsoft365").join(tenant.trim_start_matches('.')));
        let poller = Poller::new(settings.teams.presence.clone(), seed);
        Actor {
            data_dir,
            events,
            entra: None,
            http: None,
            keyring: settings.keyring.clone(),
            signed_in: None,
            sign_in: None,
            check: None,
            shortlist: Shortlist::default(),
            known: BTreeMap::new(),
            last_query: None,
            last_results: Vec::new(),
            poller,
            board: PresenceBoard::new(),
            batch: None,
            seed,
            throttled: false,
            shown: None,
            settings,
        }
    }

    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        self.start().await;
        loop {
            let wake = self.schedule();
            tokio::select! {
                request = requests.recv() => match request {
                    Some(request) => self.request(request).await,
                    None => break,
                },
                result = join(&mut self.sign_in) => self.signed_in(result).await,
                result = join(&mut self.check) => self.checked(result),
                result = join(&mut self.batch) => self.presence(result),
                () = sleep_until(wake) => {}
            }
        }
        // Dropping a handle leaves its task running: a sign-in would wait
        // for the browser for minutes after the session has gone.
        if let Some(task) = self.sign_in.take() {
            task.abort();
        }
        if let Some(task) = self.batch.take() {
            task.abort();
        }
        if let Some(task) = self.check.take() {
            task.abort();
        }
    }

    // ----- start and sign-in -----

    async fn start(&mut self) {
        match self.store().map(|s| s.load()) {
            Some(Ok(list)) => self.shortlist = list,
            Some(Err(e)) => self.error(&format!("the favourites could not be read, starting without them: {e}")),
            None => {}
        }
        for (id, expert) in &self.shortlist.favourites {
            self.known.insert(id.clone(), expert.clone());
        }
        let keyring = match self.keyring.clone() {
            Some(k) => Ok(k),
            None => tokio::task::spawn_blocking(|| Keyring::open().map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(e.to_string())),
        };
        let keyring = match keyring {
            Ok(k) => k,
            Err(e) => return self.account(AccountState::Failed { reason: e }),
        };
        self.keyring = Some(keyring.clone());
        let built = Http::new(&self.settings.teams)
            .and_then(|http| Entra::new(self.settings.teams.clone(), http.clone(), keyring).map(|e| (http, e)));
        match built {
            Ok((http, entra)) => {
                self.http = Some(http);
                self.entra = Some(entra);
            }
            Err(e) => return self.account(AccountState::Failed { reason: e.to_string() }),
        }
        // A silent sign-in: last time's account finds its refresh token.
        let Some(account) = self.saved_account() else { return self.account(AccountState::SignedOut) };
        let restored = match &self.entra {
            Some(entra) => entra.restore(account).await,
            None => return,
        };
        match restored {
            Ok(Some(session)) => {
                self.use_session(session);
                // Restoring needs no network; ask Graph once so that a refresh
                // token revoked meanwhile shows now, not at the first search.
                if let Some(s) = &self.signed_in {
                    let graph = s.graph.clone();
                    self.check = Some(tokio::spawn(async move { graph.me(Instant::now()).await }));
                }
            }
            Ok(None) => {
                self.forget_account();
                self.account(AccountState::SignedOut);
            }
            Err(e) => self.account(AccountState::Failed { reason: e.to_string() }),
        }
    }

    fn sign_in(&mut self) {
        let Some(entra) = self.entra.clone() else {
            return self.error("Microsoft 365 sign-in cannot start: the keyring or the configuration is not usable");
        };
        if let Some(old) = self.sign_in.take() {
            old.abort(); // the agent closed the tab and asks again
        }
        if let Some(check) = self.check.take() {
            check.abort();
        }
        let opener = Arc::clone(&self.settings.opener);
        self.sign_in = Some(tokio::spawn(async move { entra.sign_in_browser(opener.as_ref()).await }));
        self.account(AccountState::SigningIn);
    }

    async fn signed_in(&mut self, result: Result<Result<warmline_teams::Session, warmline_teams::Error>, String>) {
        match result.map_err(warmline_teams::Error::Protocol).and_then(|r| r) {
            Ok(session) => {
                // A previous account (another user) keeps no token here.
                if let Some(old) = self.signed_in.take()
                    && old.session.account().user_principal_name != session.account().user_principal_name
                {
                    let _ = old.session.sign_out().await;
                }
                self.save_account(session.account());
                self.use_session(session);
            }
            Err(e) => {
                tracing::info!("Microsoft 365 sign-in failed: {e}");
                // A second sign-in that failed leaves the first one working.
                match self.signed_in.as_ref().map(|s| signed_in_state(s.session.account())) {
                    Some(still) => {
                        self.error(&format!("sign-in failed, still signed in as before: {e}"));
                        self.account(still);
                    }
                    None => self.account(AccountState::Failed { reason: e.to_string() }),
                }
            }
        }
    }

    fn use_session(&mut self, session: warmline_teams::Session) {
        let Some(http) = self.http.clone() else { return };
        let graph = Graph::new(http, self.settings.teams.graph.clone(), Arc::new(session.clone()));
        let account = session.account().clone();
        self.signed_in = Some(SignedIn {
            session,
            directory: Directory::with_config(graph.clone(), &self.settings.teams.directory),
            presence: PresenceApi::new(graph.clone()),
            graph,
        });
        self.throttled = false;
        self.watch();
        self.poller.resume(Instant::now());
        self.account(signed_in_state(&account));
    }

    /// The restored sign-in's check came back.
    fn checked(&mut self, result: Result<Result<Account, warmline_teams::Error>, String>) {
        match result {
            Ok(Err(e @ warmline_teams::Error::SignInRequired { .. })) => self.sign_in_lost(&e),
            // Offline or Graph unwell: the sign-in may well be good; the
            // poller and searches will tell.
            Ok(Err(e)) => tracing::info!("checking the restored Microsoft 365 sign-in: {e}"),
            Ok(Ok(_)) | Err(_) => {}
        }
    }

    async fn sign_out(&mut self) {
        if let Some(task) = self.sign_in.take() {
            task.abort();
        }
        if let Some(task) = self.check.take() {
            task.abort();
        }
        if let Some(task) = self.batch.take() {
            task.abort();
        }
        // The poller still waits for the aborted batch's reply: start afresh.
        self.poller = Poller::new(self.settings.teams.presence.clone(), self.seed);
        let result = match self.signed_in.take() {
            Some(s) => s.session.sign_out().await.map_err(|e| e.to_string()),
            None => self.delete_refresh_token().await,
        };
        self.forget_account();
        self.throttled = false;
        match result {
            Ok(()) => self.account(AccountState::SignedOut),
            Err(e) => {
                self.error(&format!("signing out could not remove the refresh token from the keyring: {e}"));
                self.account(AccountState::SignedOut);
            }
        }
    }

    /// Without a session (the restore failed), the saved account still
    /// names the keyring entry to remove.
    async fn delete_refresh_token(&self) -> Result<(), String> {
        let (Some(keyring), Some(account)) = (self.keyring.clone(), self.saved_account()) else { return Ok(()) };
        let name = SecretName::new(SecretKind::RefreshToken, account.user_principal_name);
        tokio::task::spawn_blocking(move || keyring.delete(&name))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    // ----- commands -----

    async fn request(&mut self, request: Request) {
        match request {
            Request::SignIn => self.sign_in(),
            Request::SignOut => self.sign_out().await,
            Request::Experts(query) => self.experts(query).await,
            Request::Favourite { expert, on } => self.favourite(&expert, on),
        }
    }

    /// A search: Graph's people plus the favourites tagged with the query;
    /// an empty query lists the favourites.
    async fn experts(&mut self, query: String) {
        let Some(s) = &self.signed_in else {
            return self.error("sign in to Microsoft 365 to search for experts");
        };
        let (directory, presence) = (s.directory.clone(), s.presence.clone());
        let mut ids = Vec::new();
        if query.trim().is_empty() {
            ids = self.shortlist.favourite_ids();
        } else {
            let found = match directory.search(Instant::now(), &query).await {
                Ok(found) => found,
                Err(e) => return self.graph_error(e),
            };
            for expert in found {
                match expert.id.clone() {
                    Some(id) => {
                        if !ids.contains(&id) {
                            ids.push(id.clone());
                        }
                        self.known.insert(id, expert);
                    }
                    None => tracing::debug!("a search result without an id was left out"),
                }
            }
            for expert in self.shortlist.with_tag(&query) {
                if let Some(id) = expert.id.clone().filter(|id| !ids.contains(id)) {
                    ids.push(id);
                }
            }
        }
        // Only favourites and the people on screen are remembered.
        let favourites = &self.shortlist.favourites;
        self.known.retain(|id, _| ids.contains(id) || favourites.contains_key(id));
        // Presence for the new faces at once, unless Graph is throttling us
        // (then the last known presence shows until the poller's next turn).
        let now = Instant::now();
        let unseen: Vec<String> = ids.iter().filter(|id| self.board.get(id, now).is_none()).cloned().collect();
        if !unseen.is_empty() && !self.throttled && self.poller.halted().is_none() {
            match presence.all(now, &unseen).await {
                Ok(list) => {
                    self.board.apply(Instant::now(), list);
                }
                Err(e) => tracing::info!("presence for the search results: {e}"),
            }
        }
        self.last_query = Some(query.clone());
        self.last_results = ids;
        if self.poller.halted().is_some() {
            // A new search is the agent asking again: try presence again too.
            self.poller.resume(Instant::now());
        }
        self.watch();
        self.emit(AgentEvent::Experts { query, experts: self.listing() });
    }

    fn favourite(&mut self, id: &str, on: bool) {
        if on {
            let Some(expert) = self.known.get(id).cloned() else {
                return self.error(&format!("no expert {id} in the last search; search for them first"));
            };
            if let Err(e) = self.shortlist.add_favourite(expert) {
                return self.error(&e.to_string());
            }
        } else {
            self.shortlist.remove_favourite(id);
        }
        if let Some(Err(e)) = self.store().map(|s| s.save(&self.shortlist)) {
            self.error(&format!("the favourites could not be saved: {e}"));
        }
        self.watch();
        let query = self.last_query.clone().unwrap_or_default();
        self.emit(AgentEvent::Experts { query, experts: self.listing() });
    }

    /// The last search's people: favourites first, then by name.
    fn listing(&self) -> Vec<Expert> {
        let now = Instant::now();
        let mut out: Vec<Expert> = self.last_results.iter().filter_map(|id| self.view(id, now)).collect();
        out.sort_by(|a, b| {
            b.favourite.cmp(&a.favourite).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        });
        out
    }

    fn view(&self, id: &str, now: Instant) -> Option<Expert> {
        let e = self.known.get(id).or_else(|| self.shortlist.favourites.get(id))?;
        let seen = self.board.get(id, now);
        Some(Expert {
            id: id.to_owned(),
            name: e
                .display_name
                .clone()
                .or_else(|| e.user_principal_name.clone())
                .or_else(|| e.mail.clone())
                .unwrap_or_else(|| id.to_owned()),
            title: e.job_title.clone(),
            department: e.department.clone(),
            skills: self.shortlist.tags.get(id).map(|t| t.iter().cloned().collect()).unwrap_or_default(),
            favourite: self.shortlist.favourites.contains_key(id),
            availability: seen
                .as_ref()
                .map_or(Availability::PresenceUnknown, |s| Availability::from_graph(s.presence.availability.as_str())),
            activity: seen.as_ref().map_or_else(|| "PresenceUnknown".to_owned(), |s| s.presence.activity.to_string()),
            presence_age_s: seen.map_or(0, |s| u32::try_from(s.age.as_secs()).unwrap_or(u32::MAX)),
            dial: resolve_dial_target(e, &self.settings.teams.dial).ok(),
        })
    }

    // ----- presence -----

    /// Favourites in every batch, the last search's people in the room left.
    fn watch(&mut self) {
        let favourites = self.shortlist.favourite_ids();
        self.poller.watch(&favourites, &self.last_results);
    }

    /// Sends the next batch when it is due; returns when to look again.
    fn schedule(&mut self) -> Option<tokio::time::Instant> {
        let s = self.signed_in.as_ref()?;
        match self.poller.poll(Instant::now()) {
            Next::Send(batch) => {
                let api = s.presence.clone();
                self.batch = Some(tokio::spawn(async move {
                    let result = api.batch(Instant::now(), &batch.ids).await;
                    (batch.id, result)
                }));
                None
            }
            Next::Wait(at) => Some(tokio::time::Instant::from_std(at)),
            // Watching nobody, a batch out, or halted: a command or the
            // batch's reply wakes the actor.
            _ => None,
        }
    }

    fn presence(&mut self, result: Result<Batch, String>) {
        let Ok((id, result)) = result else { return };
        let now = Instant::now();
        self.poller.handle_outcome(now, id, outcome_of(&result));
        match result {
            Ok(list) => {
                if std::mem::take(&mut self.throttled)
                    && let Some(s) = &self.signed_in
                {
                    let state = signed_in_state(s.session.account());
                    self.account(state);
                }
                for changed in self.board.apply(now, list) {
                    if let Some(expert) = self.view(&changed.id, now) {
                        self.emit(AgentEvent::Presence { expert });
                    }
                }
            }
            Err(warmline_teams::Error::Throttled { retry_after }) => {
                self.throttled = true;
                let wait = retry_after.unwrap_or_else(|| self.poller.interval());
                self.account(AccountState::Throttled { retry_after_s: wait.as_secs_f64().ceil() as u32 });
            }
            Err(e @ warmline_teams::Error::SignInRequired { .. }) => self.sign_in_lost(&e),
            Err(e @ warmline_teams::Error::Forbidden { .. }) => self.error(&e.to_string()),
            // Offline or a Graph hiccup: the last known presence stays, with its age.
            Err(e) => tracing::info!("presence: {e}"),
        }
    }

    /// Graph or Entra no longer accept the sign-in: the agent must sign in again.
    fn sign_in_lost(&mut self, e: &warmline_teams::Error) {
        self.signed_in = None;
        if let Some(task) = self.batch.take() {
            task.abort();
        }
        self.poller = Poller::new(self.settings.teams.presence.clone(), self.seed);
        self.account(AccountState::Failed { reason: e.to_string() });
    }

    fn graph_error(&mut self, e: warmline_teams::Error) {
        if matches!(e, warmline_teams::Error::SignInRequired { .. }) {
            self.sign_in_lost(&e);
        }
        self.error(&e.to_string());
    }

    // ----- files -----

    fn store(&self) -> Option<JsonShortlistStore> {
        self.data_dir.as_ref().map(|d| JsonShortlistStore::new(d.join(SHORTLIST_FILE)))
    }

    fn saved_account(&self) -> Option<Account> {
        let path = self.data_dir.as_ref()?.join(ACCOUNT_FILE);
        let bytes = std::fs::read(&path).ok()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| tracing::warn!("{} is not a saved account, ignored: {e}", path.display()))
            .ok()
    }

    fn save_account(&self, account: &Account) {
        let Some(dir) = &self.data_dir else { return };
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            let json = serde_json::to_vec_pretty(account).map_err(std::io::Error::other)?;
            std::fs::write(dir.join(ACCOUNT_FILE), json)
        });
        if let Err(e) = written {
            tracing::warn!("the account could not be saved for the next start (sign-in will be asked again): {e}");
        }
    }

    fn forget_account(&self) {
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_file(dir.join(ACCOUNT_FILE));
        }
    }

    // ----- events -----

    fn emit(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    fn account(&mut self, state: AccountState) {
        if self.shown.as_ref() != Some(&state) {
            self.shown = Some(state.clone());
            self.emit(AgentEvent::Account { account: state });
        }
    }

    fn error(&self, message: &str) {
        self.emit(AgentEvent::Error(ErrorPayload::from(Error::Teams(message.to_owned()))));
    }
}

fn signed_in_state(account: &Account) -> AccountState {
    AccountState::SignedIn {
        name: account.display_name.clone().unwrap_or_else(|| account.user_principal_name.clone()),
        upn: account.user_principal_name.clone(),
    }
}

/// Waits for the task in `slot`, if any, and empties it; never completes
/// when the slot is empty. A task that panicked or was aborted reports why.
async fn join<T>(slot: &mut Option<JoinHandle<T>>) -> Result<T, String> {
    let Some(task) = slot.as_mut() else { return std::future::pending().await };
    let result = task.await.map_err(|e| e.to_string());
    *slot = None;
    result
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! Against the lab's Entra and Graph stand-ins, with the real keyring
    //! when run inside `installer/test-session.sh` (a mock one elsewhere).
    //! Each test signs in as a different lab user: they share the keyring.

    use std::time::Duration;

    use warmline_lab::faults::{GraphApi, GraphFault, GraphFaultRule};
    use warmline_lab::presence::{Activity as LabActivity, Availability as LabAvailability, Presence as LabPresence};
    use warmline_lab::scenario::ConsentMode;
    use warmline_lab::{Lab, LabOptions, Scenario};

    use super::*;
    use crate::ErrorCode;

    /// A browser that consents at once: it asks the lab's `/authorize`
    /// (auto consent, as `login_hint`) and follows the redirect to the
    /// loopback listener, as a real browser would.
    #[derive(Debug)]
    struct LabBrowser {
        login_hint: String,
    }

    impl Opener for LabBrowser {
        fn open(&self, url: &url::Url) -> Result<(), warmline_teams::Error> {
            let mut url = url.clone();
            url.query_pairs_mut().append_pair("login_hint", &self.login_hint);
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("an HTTP client");
                let consent = client.get(url).send().await.expect("the lab's /authorize answers");
                let location = consent
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_owned)
                    .unwrap_or_else(|| panic!("auto consent redirects back to the app, got {}", consent.status()));
                let back = client.get(location).send().await.expect("the loopback listener answers");
                assert!(back.status().is_success(), "the redirect listener took the code: {}", back.status());
            });
            Ok(())
        }
    }

    struct Fixture {
        lab: Lab,
        dir: tempfile::TempDir,
        keyring: Keyring,
        upn: String,
    }

    impl Fixture {
        async fn new(user: &str) -> Fixture {
            let options = LabOptions { consent: Some(ConsentMode::Auto), ..LabOptions::default() };
            let lab = Lab::start_with(Scenario::default_scenario(), options).await.expect("the lab starts");
            let keyring = test_keyring();
            let upn = format!("{user}@{}", lab.scenario().tenant.domain);
            Fixture { lab, dir: tempfile::tempdir().expect("tempdir"), keyring, upn }
        }

        fn settings(&self) -> Microsoft365 {
            let e = self.lab.endpoints();
            let config = Microsoft365Config {
                tenant: e.entra_tenant.clone(),
                client_id: e.entra_client_id.clone(),
                authority: e.entra_authority.clone(),
                graph: e.graph_base.clone(),
            };
            let mut m = Microsoft365::from_config(&config, &self.lab.scenario().tenant.domain, 44).expect("settings");
            // Fast enough for a test, still within the budget's rules.
            m.teams.presence.interval_secs = 1.0;
            m.teams.presence.slow_interval_secs = 1.0;
            m.teams.presence.max_interval_secs = 2.0;
            m.data_dir = Some(self.dir.path().to_owned());
            m.keyring = Some(self.keyring.clone());
            m.opener = Arc::new(LabBrowser { login_hint: self.upn.clone() });
            m
        }

        fn tenant_dir(&self) -> PathBuf {
            self.dir.path().join("microsoft365").join(&self.lab.endpoints().entra_tenant)
        }

        fn start(&self) -> (Teams, mpsc::UnboundedReceiver<AgentEvent>) {
            let (events, rx) = mpsc::unbounded_channel();
            (Teams::spawn(self.settings(), 7, events), rx)
        }

        fn refresh_token(&self) -> Option<warmline_secrets::Secret> {
            let name = SecretName::new(SecretKind::RefreshToken, self.upn.clone());
            self.keyring.get(&name).expect("the keyring reads")
        }

        async fn sign_in(&self, teams: &Teams, events: &mut mpsc::UnboundedReceiver<AgentEvent>) -> AccountState {
            wait_for(events, "signed out at start", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
            teams.command(AgentCommand::SignIn).expect("forwarded");
            wait_for(events, "signing in", |e| account_is(e, |a| *a == AccountState::SigningIn)).await;
            match wait_for(events, "signed in", |e| account_is(e, |a| !matches!(a, AccountState::SigningIn))).await {
                AgentEvent::Account { account } => account,
                _ => unreachable!(),
            }
        }
    }

    /// The test session's keyring (`installer/test-session.sh`), else a mock.
    fn test_keyring() -> Keyring {
        if std::env::var("WARMLINE_TEST_SESSION").as_deref() == Ok("1") {
            Keyring::open().expect("the test session's keyring")
        } else {
            Keyring::with_store(keyring_core::mock::Store::new().expect("mock store"), "mock")
        }
    }

    fn account_is(e: &AgentEvent, f: impl Fn(&AccountState) -> bool) -> bool {
        matches!(e, AgentEvent::Account { account } if f(account))
    }

    /// The next event that fits, skipping others (presence churn goes on
    /// in the lab); fails after a generous while.
    async fn wait_for(
        events: &mut mpsc::UnboundedReceiver<AgentEvent>,
        what: &str,
        fits: impl Fn(&AgentEvent) -> bool,
    ) -> AgentEvent {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(e) = events.recv().await {
                if fits(&e) {
                    return Some(e);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(e)) => e,
            Ok(None) => panic!("the events ended before {what}"),
            Err(_) => panic!("no {what} within 30 s"),
        }
    }

    async fn experts(events: &mut mpsc::UnboundedReceiver<AgentEvent>, query: &str) -> Vec<Expert> {
        match wait_for(events, "experts", |e| matches!(e, AgentEvent::Experts { query: q, .. } if q == query)).await {
            AgentEvent::Experts { experts, .. } => experts,
            _ => unreachable!(),
        }
    }

    fn other_presence(now: LabPresence) -> LabPresence {
        if now.availability == LabAvailability::Away {
            LabPresence { availability: LabAvailability::Busy, activity: LabActivity::InAMeeting }
        } else {
            LabPresence { availability: LabAvailability::Away, activity: LabActivity::Away }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sign_in_search_favourite_and_presence_changes_arrive() {
        let f = Fixture::new("jordan.lee").await;
        let (teams, mut events) = f.start();
        let account = f.sign_in(&teams, &mut events).await;
        assert_eq!(account, AccountState::SignedIn { name: "Jordan Lee".into(), upn: f.upn.clone() });
        teams.command(AgentCommand::Experts { query: "Priya".into() }).expect("forwarded");
        let found = experts(&mut events, "Priya").await;
        let lab_priya = f.lab.control().expert("Priya Natarajan").expect("in the scenario");
        let priya = found.iter().find(|e| e.name == "Priya Natarajan").expect("the lab's expert is found");
        assert_eq!(priya.id, lab_priya.id);
        assert_eq!(priya.title.as_deref(), Some("Billing Specialist"));
        assert_eq!(priya.department.as_deref(), Some("Finance"));
        assert_eq!(priya.dial.as_deref(), Some("sip:+442079460101@northwind.example.com;user=phone"));
        assert!(
            crate::DialPolicy::default().allows(priya.dial.as_deref().unwrap_or_default()).is_ok(),
            "transfer takes the dial target as it is"
        );
        assert_ne!(priya.availability, Availability::PresenceUnknown, "search results come with presence");
        assert!(!priya.favourite);

        teams.command(AgentCommand::Favourite { expert: priya.id.clone(), on: true }).expect("forwarded");
        let listed = experts(&mut events, "Priya").await;
        assert!(listed[0].favourite && listed[0].id == priya.id, "favourites come first: {listed:?}");
        assert!(f.tenant_dir().join(SHORTLIST_FILE).exists(), "favourites are kept in the data directory");
        let token = f.refresh_token().expect("the refresh token is in the keyring");
        assert!(f.tenant_dir().join(ACCOUNT_FILE).exists(), "who signed in is kept for the next start");
        for file in std::fs::read_dir(f.tenant_dir()).expect("data dir").flatten() {
            let text = std::fs::read(file.path()).expect("read");
            assert!(
                !text.windows(token.len()).any(|w| w == token.expose_bytes()),
                "{} must not hold the refresh token: it belongs in the keyring only",
                file.path().display()
            );
        }

        let now = f.lab.control().expert(&priya.id).expect("expert").presence;
        let next = other_presence(now);
        f.lab.control().set_presence(&priya.id, next).expect("set presence");
        let wanted = Availability::from_graph(next.availability.as_str());
        let changed = wait_for(
            &mut events,
            "Priya's new presence",
            |e| matches!(e, AgentEvent::Presence { expert } if expert.id == priya.id && expert.availability == wanted),
        )
        .await;
        let AgentEvent::Presence { expert } = changed else { unreachable!() };
        assert!(expert.favourite);
        assert_eq!(expert.activity, next.activity.as_str());

        teams.command(AgentCommand::SignOut).expect("forwarded");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn graph_throttling_shows_throttled_then_signed_in_again() {
        let f = Fixture::new("sam.patel").await;
        let (teams, mut events) = f.start();
        let signed_in = f.sign_in(&teams, &mut events).await;
        assert!(matches!(signed_in, AccountState::SignedIn { .. }), "{signed_in:?}");
        teams.command(AgentCommand::Experts { query: "Oliver".into() }).expect("forwarded");
        assert!(!experts(&mut events, "Oliver").await.is_empty());

        f.lab.control().inject_graph_fault(GraphFaultRule {
            fault: GraphFault::Throttle { retry_after: 1.0 },
            times: Some(1),
            api: Some(GraphApi::Presence),
        });
        wait_for(&mut events, "throttled", |e| {
            account_is(e, |a| matches!(a, AccountState::Throttled { retry_after_s: 1 }))
        })
        .await;
        let back = wait_for(&mut events, "signed in again", |e| account_is(e, |_| true)).await;
        assert_eq!(back, AgentEvent::Account { account: signed_in }, "presence resumes after Retry-After");
        teams.command(AgentCommand::SignOut).expect("forwarded");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_next_start_signs_in_silently_and_sign_out_empties_the_keyring() {
        let f = Fixture::new("morgan.clarke").await;
        let (teams, mut events) = f.start();
        let signed_in = f.sign_in(&teams, &mut events).await;
        drop(teams);
        let drained = tokio::time::timeout(Duration::from_secs(30), async { while events.recv().await.is_some() {} });
        assert!(drained.await.is_ok(), "the actor stops with its session");

        let (teams, mut events) = f.start();
        let restored = wait_for(&mut events, "the silent sign-in", |e| account_is(e, |_| true)).await;
        assert_eq!(restored, AgentEvent::Account { account: signed_in }, "no browser the second time");
        teams.command(AgentCommand::Experts { query: "Grace".into() }).expect("forwarded");
        let found = experts(&mut events, "Grace").await;
        assert!(found.iter().any(|e| e.name == "Grace Thompson"), "the restored sign-in reaches Graph: {found:?}");

        teams.command(AgentCommand::SignOut).expect("forwarded");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
        assert!(f.refresh_token().is_none(), "signing out removes the refresh token from the keyring");
        assert!(!f.tenant_dir().join(ACCOUNT_FILE).exists());
        teams.command(AgentCommand::Experts { query: "Grace".into() }).expect("forwarded");
        let refused = wait_for(&mut events, "an error", |e| matches!(e, AgentEvent::Error(_))).await;
        let AgentEvent::Error(p) = refused else { unreachable!() };
        assert_eq!(p.code, ErrorCode::Microsoft365);
        assert!(p.message.contains("sign in"), "{}", p.message);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_in_revoked_while_away_asks_for_sign_in_at_the_next_start() {
        let f = Fixture::new("oliver.bennett").await;
        let (teams, mut events) = f.start();
        f.sign_in(&teams, &mut events).await;
        drop(teams);
        let drained = tokio::time::timeout(Duration::from_secs(30), async { while events.recv().await.is_some() {} });
        assert!(drained.await.is_ok(), "the actor stops with its session");
        assert_eq!(f.lab.control().revoke_sign_ins(Some(&f.upn)).expect("a lab user"), 1);

        let (teams, mut events) = f.start();
        let failed = wait_for(&mut events, "the refused restore", |e| {
            account_is(e, |a| matches!(a, AccountState::Failed { .. }))
        })
        .await;
        let AgentEvent::Account { account: AccountState::Failed { reason } } = failed else { unreachable!() };
        assert!(reason.contains("sign in"), "the agent learns what to do: {reason}");
        teams.command(AgentCommand::SignOut).expect("forwarded");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
        assert!(f.refresh_token().is_none(), "the dead refresh token leaves the keyring too");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_presence_permission_is_named_in_the_error() {
        let f = Fixture::new("grace.thompson").await;
        let (teams, mut events) = f.start();
        f.sign_in(&teams, &mut events).await;
        f.lab.control().revoke_permission("Presence.Read.All").expect("known permission");
        teams.command(AgentCommand::Experts { query: "Daniel".into() }).expect("forwarded");
        let found = experts(&mut events, "Daniel").await;
        assert!(found.iter().all(|e| e.availability == Availability::PresenceUnknown), "{found:?}");
        let error = wait_for(&mut events, "the 403", |e| matches!(e, AgentEvent::Error(_))).await;
        let AgentEvent::Error(p) = error else { unreachable!() };
        assert_eq!(p.code, ErrorCode::Microsoft365);
        assert!(p.message.contains("Presence.Read.All"), "the admin learns which permission: {}", p.message);
        teams.command(AgentCommand::SignOut).expect("forwarded");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_session_hands_microsoft365_commands_to_the_actor() {
        use crate::session::{AudioInput, AudioOutput, Session};
        let (lab, mut config) = crate::embedded::tests::lab_and_session(
            warmline_lab::Scenario::default_scenario(),
            Some("1003"),
            AudioInput::Silence,
            AudioOutput::Discard,
        )
        .await;
        lab.control().set_consent_mode(ConsentMode::Auto);
        let dir = tempfile::tempdir().expect("tempdir");
        let upn = format!("daniel.okafor@{}", lab.scenario().tenant.domain);
        let m = config.microsoft365.as_mut().expect("the embedded lab configures Microsoft 365");
        m.data_dir = Some(dir.path().to_owned());
        m.keyring = Some(test_keyring());
        m.opener = Arc::new(LabBrowser { login_hint: upn.clone() });
        let (session, mut events) = Session::start(config).await.expect("the session starts");
        wait_for(&mut events, "signed out at start", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
        session.command(AgentCommand::SignIn).await.expect("sign_in is taken");
        let signed_in =
            wait_for(&mut events, "signed in", |e| account_is(e, |a| matches!(a, AccountState::SignedIn { .. })));
        assert_eq!(
            signed_in.await,
            AgentEvent::Account { account: AccountState::SignedIn { name: "Daniel Okafor".into(), upn } }
        );
        session.command(AgentCommand::Experts { query: "Grace".into() }).await.expect("experts is taken");
        let grace = experts(&mut events, "Grace").await;
        let dial = grace.iter().find(|e| e.name == "Grace Thompson").and_then(|e| e.dial.clone());
        assert_eq!(dial.as_deref(), Some("sip:+442079460103@northwind.example.com;user=phone"));
        session.command(AgentCommand::SignOut).await.expect("sign_out is taken");
        wait_for(&mut events, "signed out", |e| account_is(e, |a| *a == AccountState::SignedOut)).await;
        session.command(AgentCommand::Quit).await.expect("quit");
    }
}
