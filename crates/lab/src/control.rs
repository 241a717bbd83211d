//! Driving the lab from Rust: experts' presence and behaviour, Graph and
//! Entra faults, CRM outages, device code approval, time. `warmline-cli
//! lab` maps its JSON-lines commands onto these calls ([`crate::command`]);
//! tests call them directly.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::Error;
use crate::crm::Crm;
use crate::crm::db::CrmNote;
use crate::customer::{CustomerCall, CustomerHandle, CustomerState};
use crate::entra::scopes::GRAPH_PERMISSIONS;
use crate::faults::{CrmOutage, GraphFaultRule, TokenFaultRule};
use crate::presence::{Activity, Availability, Presence};
use crate::scenario::{Answer, Audio, ConsentMode};
use crate::tenant::{Shared, TenantState};

/// Something that happened in the lab, for whoever listens
/// ([`Control::subscribe`]; `warmline-cli lab` prints them as JSON lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LabEvent {
    /// An expert's presence changed.
    Presence {
        /// The expert's user principal name.
        expert: String,
        /// The expert's object id.
        id: String,
        /// The new availability.
        availability: Availability,
        /// The new activity.
        activity: Activity,
        /// Why.
        cause: PresenceCause,
    },
    /// Someone signed in (a code or device code was redeemed).
    SignedIn {
        /// Who.
        upn: String,
        /// How.
        flow: SignInFlow,
    },
    /// A device code was issued and waits for approval.
    DeviceCode {
        /// The code a person types.
        user_code: String,
        /// Where they type it.
        verification_uri: String,
        /// Seconds it stays valid.
        expires_in: u64,
    },
    /// A simulated customer's call changed state.
    Customer {
        /// The lab's name for the customer (`K1`).
        customer: String,
        /// The caller's number.
        from: String,
        /// `dialing`, `connected` or `ended`.
        state: CustomerState,
        /// For `ended`: how, and where the recording went.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A simulated expert's phone: a call rang, was answered, declined,
    /// refused as busy, or ended.
    Expert {
        /// The expert's user principal name.
        expert: String,
        /// The expert's number (the Direct Routing target).
        number: String,
        /// The expert's user agent's call number.
        call: u32,
        /// `ringing`, `answered`, `declined`, `busy` or `ended`.
        state: crate::expert::ExpertCallState,
        /// For `ended`: where the recording went.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// Something on the SIP side: registrations, availability, and calls
    /// queued, routed, re-queued, answered and ended. Printed flat
    /// (`{"event":"queued",...}`).
    #[serde(untagged)]
    Sip(crate::sip::SipEvent),
}

/// Why a presence changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceCause {
    /// The seeded schedule.
    Schedule,
    /// A command.
    Command,
    /// A call started or ended.
    Call,
}

/// A sign-in flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInFlow {
    /// Authorization code with PKCE.
    AuthorizationCode,
    /// Device code.
    DeviceCode,
}

/// An expert as the control API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpertStatus {
    /// Index in the scenario.
    pub index: usize,
    /// Entra object id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// User principal name.
    pub upn: String,
    /// Office number (E.164), the Direct Routing target.
    pub phone: Option<String>,
    /// Skill tags.
    pub skills: Vec<String>,
    /// Current presence.
    pub presence: Presence,
    /// Whether a command holds the presence (the schedule leaves it alone).
    pub pinned: bool,
    /// Whether the scenario lets the presence change on its own.
    pub churn: bool,
    /// What the expert does when called.
    pub answer: Answer,
    /// What the expert says on a call.
    pub audio: Audio,
    /// Where the expert records what it hears, if anywhere.
    pub record: Option<std::path::PathBuf>,
}

/// A handle on a running lab. Cheap to clone; every clone drives the same lab.
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) tenant: Arc<Shared>,
    pub(crate) crm: Arc<Crm>,
    /// The scenario's experts' static facts (skills, churn), by index.
    pub(crate) experts: Arc<Vec<crate::scenario::Expert>>,
    /// The SIP side: accounts, and what customers need to call.
    pub(crate) sip: Arc<SipControl>,
}

/// What the control API needs of the SIP side.
#[derive(Debug)]
pub(crate) struct SipControl {
    /// Each agent's SIP account (extension, UPN, password), made at start.
    pub accounts: Vec<SipAccount>,
    pub attacher: crate::sip::server::Attacher,
    pub domain: String,
    pub base_dir: Option<std::path::PathBuf>,
    /// Customer names by phone number, for the caller's display name.
    pub names: std::collections::HashMap<String, String>,
    pub customers: std::sync::Mutex<std::collections::HashMap<String, CustomerHandle>>,
    pub next_customer: std::sync::atomic::AtomicU64,
    /// The scenario's arrival schedule, and who calls which queue by it:
    /// each customer's first number, each queue's name, by index.
    pub arrivals: std::sync::Mutex<crate::arrivals::Arrivals>,
    pub callers: Vec<String>,
    pub queue_names: Vec<String>,
}

/// An agent's SIP credentials in this lab run. The password is generated
/// at start and valid only for this lab on loopback; it is never logged
/// (the `Debug` output hides it).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SipAccount {
    /// The SIP user (the scenario's extension).
    pub extension: String,
    /// The agent's UPN.
    pub upn: String,
    /// The address of record, `sip:<extension>@<domain>`.
    pub aor: String,
    /// The digest password.
    pub password: String,
}

impl std::fmt::Debug for SipAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipAccount").field("extension", &self.extension).field("aor", &self.aor).finish_non_exhaustive()
    }
}

impl Control {
    /// An agent's SIP credentials for this run, by extension or UPN
    /// (case-insensitive).
    pub fn sip_account(&self, who: &str) -> Result<SipAccount, Error> {
        self.sip
            .accounts
            .iter()
            .find(|a| a.extension == who || a.upn.eq_ignore_ascii_case(who))
            .cloned()
            .ok_or_else(|| Error::UnknownUser(who.to_owned()))
    }

    /// Every agent's SIP credentials.
    pub fn sip_accounts(&self) -> Vec<SipAccount> {
        self.sip.accounts.clone()
    }

    /// Places a simulated customer call (WebRTC audio, see
    /// [`CustomerCall`]); its progress comes as [`LabEvent::Customer`] and
    /// the ACD's events. Needs the lab's tokio runtime.
    pub fn place_call(&self, mut call: CustomerCall) -> Result<CustomerHandle, Error> {
        if call.name.is_none() {
            call.name = self.sip.names.get(&call.from).cloned();
        }
        let n = self.sip.next_customer.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = format!("K{n}");
        let (tenant, sip) = (self.tenant.clone(), self.sip.clone());
        let handle = crate::customer::place(
            &self.sip.attacher,
            &self.sip.domain,
            id.clone(),
            call,
            self.sip.base_dir.clone(),
            move |e| {
                if let LabEvent::Customer { customer, state: CustomerState::Ended, .. } = &e
                    && let Ok(mut map) = sip.customers.lock()
                {
                    map.remove(customer);
                }
                tenant.emit(e);
            },
        )?;
        if let Ok(mut map) = self.sip.customers.lock() {
            map.insert(id, handle.clone());
        }
        Ok(handle)
    }

    /// Hangs up a simulated customer's call.
    pub fn hang_up_customer(&self, customer: &str) -> Result<(), Error> {
        let handle = self.sip.customers.lock().ok().and_then(|m| m.get(customer).cloned());
        let handle = handle.ok_or_else(|| Error::BadCommand(format!("no customer {customer:?}")))?;
        handle.hang_up();
        Ok(())
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LabEvent> {
        self.tenant.events.subscribe()
    }

    /// The lab's time, Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.tenant.now()
    }

    /// Moves a manual clock forward, applies the presence changes due by
    /// then and places the scheduled customer calls due by then. Fails on
    /// the system clock.
    pub fn advance(&self, by: Duration) -> Result<(), Error> {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        if !self.tenant.clock.advance(ms) {
            return Err(Error::ClockNotManual);
        }
        self.tenant.tick();
        self.place_arrivals();
        Ok(())
    }

    /// Places the customer calls the arrival schedule has due by now (lab
    /// time), each with the default voice (a 440 Hz tone); returns their
    /// handles. Called on [`Control::advance`], and by the lab's own timer
    /// on the system clock.
    pub fn place_arrivals(&self) -> Vec<CustomerHandle> {
        let now = self.tenant.now();
        let due = match self.sip.arrivals.lock() {
            Ok(mut a) => a.poll(now),
            Err(_) => return Vec::new(),
        };
        let mut placed = Vec::new();
        for arrival in due {
            let (Some(from), Some(queue)) =
                (self.sip.callers.get(arrival.customer), self.sip.queue_names.get(arrival.queue))
            else {
                continue;
            };
            let call = CustomerCall {
                from: from.clone(),
                name: None,
                queue: queue.clone(),
                audio: Audio::ToneHz(440.0),
                record: None,
                reoffers: Default::default(),
            };
            match self.place_call(call) {
                Ok(h) => placed.push(h),
                Err(e) => tracing::warn!(target: "warmline_lab", error = %e, "a scheduled call could not be placed"),
            }
        }
        placed
    }

    /// When the arrival schedule next places a call (lab time, Unix ms).
    pub fn next_arrival_ms(&self) -> Option<u64> {
        self.sip.arrivals.lock().ok().and_then(|a| a.next_due())
    }

    fn status(&self, s: &TenantState, i: usize) -> Option<ExpertStatus> {
        let u = s.directory.expert_user(i)?;
        let user = &s.directory.users[u];
        let facts = self.experts.get(i)?;
        let behaviour = s.behaviour.get(i)?;
        Some(ExpertStatus {
            index: i,
            id: user.id.clone(),
            name: user.display_name.clone(),
            upn: user.upn.clone(),
            phone: facts.phone.clone(),
            skills: facts.skills.clone(),
            presence: user.presence,
            pinned: s.churn.is_pinned(i),
            churn: facts.churn,
            answer: behaviour.answer,
            audio: behaviour.audio.clone(),
            record: behaviour.record.clone(),
        })
    }

    /// Every expert, in scenario order.
    pub fn experts(&self) -> Vec<ExpertStatus> {
        let s = self.tenant.lock();
        (0..self.experts.len()).filter_map(|i| self.status(&s, i)).collect()
    }

    /// One expert, by object id, user principal name or display name.
    pub fn expert(&self, who: &str) -> Result<ExpertStatus, Error> {
        let s = self.tenant.lock();
        let i = s.directory.find_expert(who).ok_or_else(|| Error::UnknownExpert(who.to_string()))?;
        self.status(&s, i).ok_or_else(|| Error::UnknownExpert(who.to_string()))
    }

    /// Changes an expert under the lock and reports the presence event, if any.
    fn with_expert(
        &self,
        who: &str,
        change: impl FnOnce(&mut TenantState, usize) -> Option<crate::control::LabEvent>,
    ) -> Result<ExpertStatus, Error> {
        let (status, event) = {
            let mut s = self.tenant.lock();
            let i = s.directory.find_expert(who).ok_or_else(|| Error::UnknownExpert(who.to_string()))?;
            let event = change(&mut s, i);
            (self.status(&s, i).ok_or_else(|| Error::UnknownExpert(who.to_string()))?, event)
        };
        if let Some(e) = event {
            self.tenant.emit(e);
        }
        Ok(status)
    }

    /// Sets an expert's presence now and holds it there until
    /// [`Control::resume_churn`] (the seeded schedule skips the expert meanwhile).
    pub fn set_presence(&self, who: &str, presence: Presence) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            s.churn.set(i, presence, true);
            s.apply_presence(i, presence, PresenceCause::Command)
        })
    }

    /// Lets the schedule change the expert's presence again.
    pub fn resume_churn(&self, who: &str) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            s.churn.unpin(i);
            None
        })
    }

    /// Marks the expert as on a call (Busy, InACall, as Teams shows it) or
    /// back from one (the presence before the call, and the schedule
    /// resumes unless a command held it). For the lab's SIP part.
    pub fn set_on_call(&self, who: &str, on_call: bool) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            if on_call {
                if s.before_call[i].is_none() {
                    let current = s.churn.current(i).unwrap_or(Presence::AVAILABLE);
                    s.before_call[i] = Some((current, s.churn.is_pinned(i)));
                }
                s.churn.set(i, Presence::IN_A_CALL, true);
                s.apply_presence(i, Presence::IN_A_CALL, PresenceCause::Call)
            } else {
                let (before, pinned) = s.before_call[i].take()?;
                s.churn.set(i, before, pinned);
                s.apply_presence(i, before, PresenceCause::Call)
            }
        })
    }

    /// How the expert answers calls.
    pub fn set_answer(&self, who: &str, answer: Answer) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            s.behaviour[i].answer = answer;
            None
        })
    }

    /// Where the expert writes what it hears on its next calls (a WAV
    /// file, written when each call ends), or nowhere.
    pub fn set_recording(&self, who: &str, record: Option<std::path::PathBuf>) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            s.behaviour[i].record = record;
            None
        })
    }

    /// The expert's behaviour now, by UPN.
    pub(crate) fn behaviour(&self, upn: &str) -> Option<crate::tenant::Behaviour> {
        let s = self.tenant.lock();
        let i = s.directory.find_expert(upn)?;
        s.behaviour.get(i).cloned()
    }

    /// What the expert sends as audio on calls.
    pub fn set_audio(&self, who: &str, audio: Audio) -> Result<ExpertStatus, Error> {
        self.with_expert(who, |s, i| {
            s.behaviour[i].audio = audio;
            None
        })
    }

    /// Adds a Graph fault rule (rules apply in the order added).
    pub fn inject_graph_fault(&self, rule: GraphFaultRule) {
        self.tenant.lock().graph_faults.push(rule);
    }

    /// Removes every Graph fault rule.
    pub fn clear_graph_faults(&self) {
        self.tenant.lock().graph_faults.clear();
    }

    /// Adds a token endpoint fault rule.
    pub fn inject_token_fault(&self, rule: TokenFaultRule) {
        self.tenant.lock().token_faults.push(rule);
    }

    /// Removes every token endpoint fault rule.
    pub fn clear_token_faults(&self) {
        self.tenant.lock().token_faults.clear();
    }

    /// Every access token issued so far expires now: Graph answers 401 and
    /// clients must refresh.
    pub fn expire_access_tokens(&self) {
        let now = self.tenant.now();
        self.tenant.lock().grants.expire_access(now);
    }

    /// Revokes the refresh tokens of one user (by UPN or id) or of everyone:
    /// they must sign in again. Returns how many were live.
    pub fn revoke_sign_ins(&self, who: Option<&str>) -> Result<usize, Error> {
        let mut s = self.tenant.lock();
        let user = match who {
            Some(w) => Some(s.directory.find(w).ok_or_else(|| Error::UnknownUser(w.to_string()))?),
            None => None,
        };
        Ok(s.grants.revoke_refresh(user))
    }

    fn permission(name: &str) -> Result<&'static str, Error> {
        GRAPH_PERMISSIONS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .copied()
            .ok_or_else(|| Error::UnknownPermission(name.to_string()))
    }

    /// Withdraws the tenant's consent to a delegated permission: calls that
    /// need it get 403 (existing tokens included), new tokens leave it out.
    pub fn revoke_permission(&self, name: &str) -> Result<(), Error> {
        let p = Self::permission(name)?;
        self.tenant.lock().consented.remove(p);
        Ok(())
    }

    /// Grants the tenant's consent to a delegated permission again.
    pub fn grant_permission(&self, name: &str) -> Result<(), Error> {
        let p = Self::permission(name)?;
        self.tenant.lock().consented.insert(p.to_string());
        Ok(())
    }

    /// How `/authorize` gets consent from now on.
    pub fn set_consent_mode(&self, mode: ConsentMode) {
        self.tenant.lock().consent = mode;
    }

    /// Approves a pending device code as `upn` (default: the first agent).
    pub fn approve_device_code(&self, user_code: &str, upn: Option<&str>) -> Result<(), Error> {
        let now = self.tenant.now();
        let mut s = self.tenant.lock();
        let user = match upn {
            Some(u) => s.directory.find(u).ok_or_else(|| Error::UnknownUser(u.to_string()))?,
            None => 0,
        };
        if s.grants.decide_device(user_code, Some(user), now) {
            Ok(())
        } else {
            Err(Error::UnknownDeviceCode(user_code.to_string()))
        }
    }

    /// Declines a pending device code.
    pub fn deny_device_code(&self, user_code: &str) -> Result<(), Error> {
        let now = self.tenant.now();
        if self.tenant.lock().grants.decide_device(user_code, None, now) {
            Ok(())
        } else {
            Err(Error::UnknownDeviceCode(user_code.to_string()))
        }
    }

    /// The user codes of device codes waiting for approval, newest first.
    pub fn pending_device_codes(&self) -> Vec<String> {
        let now = self.tenant.now();
        self.tenant.lock().grants.pending_devices(now).iter().map(|d| d.user_code.clone()).collect()
    }

    /// Makes the CRM misbehave (or behave again with [`CrmOutage::None`]).
    pub fn set_crm_outage(&self, outage: CrmOutage) {
        self.crm.set_outage(outage);
    }

    /// The CRM's current outage.
    pub fn crm_outage(&self) -> CrmOutage {
        self.crm.outage()
    }

    /// Every note in the CRM, oldest first.
    pub fn crm_notes(&self) -> Result<Vec<CrmNote>, Error> {
        self.crm.db().notes().map_err(|e| Error::Crm(e.to_string()))
    }
}
