//! Starting and stopping the lab's HTTP stand-ins.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::LabEvent;
use crate::control::{Control, SipAccount, SipControl};
use crate::crm::db::CrmDb;
use crate::crm::{Crm, CrmListener};
use crate::expert::ExpertLine;
use crate::scenario::{ConsentMode, Scenario};
use crate::sip::server::SipServer;
use crate::sip::{AgentAccount, CoreConfig};
use crate::tenant::{Shared, Urls};
use crate::{Clock, Endpoints, Error, crm, entra, graph};

/// How to run a lab, beyond its scenario.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab's clock: the system's, or a manual one for tests.
    pub clock: Clock,
    /// Overrides the scenario's consent mode (tests use [`ConsentMode::Auto`]).
    pub consent: Option<ConsentMode>,
    /// The CRM's SQLite file; a temporary one, removed with the lab, when unset.
    /// An existing file keeps its notes; the scenario's customers are (re)seeded.
    pub crm_db: Option<PathBuf>,
    /// How long the ACD lets an offered call ring before taking it back
    /// and re-queuing it (20 s by default).
    pub ring_timeout: Duration,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions { clock: Clock::system(), consent: None, crm_db: None, ring_timeout: Duration::from_secs(20) }
    }
}

/// A running lab: the Entra, Graph and CRM stand-ins on loopback ports.
/// Dropping it stops them.
#[derive(Debug)]
pub struct Lab {
    endpoints: Endpoints,
    control: Control,
    crm_token: String,
    scenario: Arc<Scenario>,
    tasks: Vec<JoinHandle<()>>,
    sip: crate::sip::server::SipServer,
    _temp: Option<tempfile::TempDir>,
}

async fn bind(what: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|source| Error::Io { what: format!("binding the {what} stand-in on 127.0.0.1"), source })
}

fn port(listener: &TcpListener) -> Result<u16, Error> {
    listener.local_addr().map(|a| a.port()).map_err(|source| Error::Io { what: "reading a bound port".into(), source })
}

impl Lab {
    /// Starts the lab for `scenario` with default options (system clock,
    /// the scenario's consent mode, a temporary CRM database).
    pub async fn start(scenario: Scenario) -> Result<Lab, Error> {
        Lab::start_with(scenario, LabOptions::default()).await
    }

    /// Starts the lab. Must be called within a tokio runtime.
    pub async fn start_with(scenario: Scenario, options: LabOptions) -> Result<Lab, Error> {
        let (entra_tcp, graph_tcp, crm_tcp) = (bind("Entra").await?, bind("Graph").await?, bind("CRM").await?);
        let urls = Urls {
            entra: format!("http://127.0.0.1:{}/", port(&entra_tcp)?),
            graph: format!("http://127.0.0.1:{}/v1.0", port(&graph_tcp)?),
        };
        let crm_base = format!("http://127.0.0.1:{}", port(&crm_tcp)?);

        let (temp, db_path) = match options.crm_db {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("warmline-lab-")
                    .tempdir()
                    .map_err(|source| Error::Io { what: "creating the CRM's temporary directory".into(), source })?;
                let path = dir.path().join("crm.sqlite3");
                (Some(dir), path)
            }
        };
        let clock = options.clock;
        let now = clock.now_ms();
        let mut db = CrmDb::open(&db_path).map_err(|e| Error::Crm(format!("{}: {e}", db_path.display())))?;
        db.seed(&scenario.customers, now).map_err(|e| Error::Crm(format!("seeding customers: {e}")))?;
        let crm_token = scenario.crm.token.clone().unwrap_or_else(|| format!("lab-{}", crate::ids::token(24)));
        let crm = Arc::new(Crm::new(db, crm_token.clone(), clock.clone()));

        let (events, _) = broadcast::channel(1024);
        let consent = options.consent.unwrap_or(scenario.entra.consent);
        let tenant = Arc::new(Shared::new(&scenario, consent, clock.clone(), urls.clone(), events));

        let mut tasks = Vec::new();
        let entra_app = entra::router(tenant.clone());
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(entra_tcp, entra_app).await;
        }));
        let graph_app = graph::router(tenant.clone());
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(graph_tcp, graph_app).await;
        }));
        let crm_app = crm::router(crm.clone());
        let crm_listener = CrmListener { tcp: crm_tcp, crm: crm.clone() };
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(crm_listener, crm_app).await;
        }));
        if !clock.is_manual() {
            tasks.push(tokio::spawn(presence_loop(tenant.clone())));
        }

        let sip_accounts: Vec<SipAccount> = scenario
            .agents
            .iter()
            .map(|a| SipAccount {
                extension: a.extension.clone(),
                upn: a.upn.clone(),
                aor: format!("sip:{}@{}", a.extension, scenario.tenant.domain),
                password: crate::ids::token(18),
            })
            .collect();
        let mut sip_config = CoreConfig::new(&scenario.tenant.domain);
        sip_config.seed = scenario.seed;
        sip_config.ring_timeout = options.ring_timeout;
        sip_config.queues = scenario.queues.iter().map(|q| q.name.clone()).collect();
        sip_config.agents = scenario
            .agents
            .iter()
            .zip(&sip_accounts)
            .map(|(a, acc)| AgentAccount {
                extension: a.extension.clone(),
                password: acc.password.clone(),
                queues: a.queues.clone(),
            })
            .collect();
        sip_config.experts = scenario.experts.iter().filter_map(|e| e.phone.clone()).collect();
        let sip_events = tenant.clone();
        let sip = SipServer::start(sip_config, move |e| sip_events.emit(LabEvent::Sip(e))).await?;

        let endpoints = Endpoints {
            sip_ws: Some(sip.url().to_owned()),
            entra_authority: urls.entra.clone(),
            entra_tenant: scenario.tenant.domain.clone(),
            entra_client_id: scenario.tenant.client_id.clone(),
            graph_base: urls.graph.clone(),
            crm_base,
        };
        tracing::info!(
            target: "warmline_lab",
            scenario = %scenario.name,
            entra = %endpoints.entra_authority,
            graph = %endpoints.graph_base,
            crm = %endpoints.crm_base,
            sip = %sip.url(),
            "lab started"
        );
        let experts = Arc::new(scenario.experts.clone());
        let names =
            scenario.customers.iter().flat_map(|c| c.phones.iter().map(|p| (p.clone(), c.name.clone()))).collect();
        let sip_control = SipControl {
            accounts: sip_accounts,
            attacher: sip.attacher(),
            domain: scenario.tenant.domain.clone(),
            base_dir: scenario.base_dir.clone(),
            names,
            customers: Default::default(),
            next_customer: Default::default(),
            arrivals: std::sync::Mutex::new(crate::arrivals::Arrivals::for_scenario(&scenario, now)),
            callers: scenario.customers.iter().map(|c| c.phones.first().cloned().unwrap_or_default()).collect(),
            queue_names: scenario.queues.iter().map(|q| q.name.clone()).collect(),
        };
        let control = Control { tenant, crm, experts, sip: Arc::new(sip_control) };
        if !clock.is_manual() && scenario.arrivals.per_hour > 0.0 {
            tasks.push(tokio::spawn(arrival_loop(control.clone())));
        }
        for e in &scenario.experts {
            if let Some(number) = &e.phone {
                let line = ExpertLine { upn: e.upn.clone(), number: number.clone(), name: e.name.clone() };
                tasks.push(crate::expert::start(&sip.attacher(), &scenario.tenant.domain, line, control.clone()));
            }
        }
        Ok(Lab { endpoints, control, crm_token, scenario: Arc::new(scenario), tasks, sip, _temp: temp })
    }

    /// Where the stand-ins listen.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Attaches an in-process user agent to the SIP core as a trunk
    /// connection (the lab's own simulated customers).
    pub fn attach_sip(&self) -> crate::sip::server::LocalFlow {
        self.sip.attach()
    }

    /// Overrides where the lab's SIP WebSocket is said to listen (it is
    /// set at start).
    pub fn set_sip_ws(&mut self, url: String) {
        self.endpoints.sip_ws = Some(url);
    }

    /// The handle that drives the lab.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// The bearer token the CRM accepts. A lab credential, valid only for
    /// this run on loopback; still, it is never logged.
    pub fn crm_token(&self) -> &str {
        &self.crm_token
    }

    /// The scenario the lab runs.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The first line `warmline-cli lab` prints: where everything listens
    /// and the CRM token for this run.
    pub fn ready_event(&self) -> serde_json::Value {
        serde_json::json!({
            "event": "ready",
            "protocol": crate::command::PROTOCOL_VERSION,
            "scenario": self.scenario.name,
            "endpoints": self.endpoints,
            "crm_token": self.crm_token,
        })
    }

    /// The JSON-lines session of `warmline-cli lab`: prints the ready line,
    /// then runs each input line as a command and prints its reply, and
    /// prints every [`crate::LabEvent`] as it happens. Returns at the end of
    /// the input or after `{"cmd":"quit"}`.
    pub async fn serve_lines<R, W>(&self, input: R, mut output: W) -> Result<(), Error>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let io = |source| Error::Io { what: "the JSON-lines session".into(), source };
        let mut events = self.control.subscribe();
        let mut lines = input.lines();
        write_line(&mut output, &self.ready_event().to_string()).await.map_err(io)?;
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Some(line) = line.map_err(io)? else { return Ok(()) };
                    if line.trim().is_empty() {
                        continue;
                    }
                    let (reply, quit) = self.control.execute_line_for_quit(&line);
                    write_line(&mut output, &reply).await.map_err(io)?;
                    // Events the command caused follow its reply.
                    while let Ok(event) = events.try_recv() {
                        write_line(&mut output, &event_line(&event)).await.map_err(io)?;
                    }
                    if quit {
                        return Ok(());
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => write_line(&mut output, &event_line(&event)).await.map_err(io)?,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let line = serde_json::json!({"event": "lagged", "missed": missed}).to_string();
                        write_line(&mut output, &line).await.map_err(io)?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}

fn event_line(event: &crate::LabEvent) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

async fn write_line<W: AsyncWrite + Unpin>(output: &mut W, line: &str) -> std::io::Result<()> {
    output.write_all(line.as_bytes()).await?;
    output.write_all(b"\n").await?;
    output.flush().await
}

impl Drop for Lab {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Places scheduled customer calls on the system clock: sleeps until the
/// next is due, places it, repeats.
async fn arrival_loop(control: Control) {
    loop {
        let Some(next) = control.next_arrival_ms() else { return };
        let wait = next.saturating_sub(control.now_ms());
        tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
        control.place_arrivals();
    }
}

/// Applies the presence schedule on the system clock: sleeps until the next
/// change is due, applies it, repeats.
async fn presence_loop(tenant: Arc<Shared>) {
    loop {
        let next = tenant.tick();
        let now = tenant.now();
        let wait = next.map_or(3_600_000, |t| t.saturating_sub(now));
        tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
    }
}
