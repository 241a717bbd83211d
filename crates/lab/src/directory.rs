//! The tenant's people as Graph shows them: agents and experts, with the
//! `user` properties Warmline reads and each one's presence.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::presence::Presence;
use crate::scenario::Scenario;

/// Properties `GET /users` returns without `$select` (Graph's default set,
/// as in the documented `users-list` response).
pub(crate) const DEFAULT_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Every property the stand-in knows; `$select` may name any of these.
pub(crate) const PROPERTIES: [&str; 14] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
    "department",
    "accountEnabled",
    "userType",
];

/// A Teams user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub upn: String,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub business_phones: Vec<String>,
    pub office_location: Option<String>,
    /// Index in the scenario's experts, for experts.
    pub expert: Option<usize>,
    pub presence: Presence,
}

impl User {
    /// Every property, in Graph's spelling.
    pub(crate) fn properties(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("businessPhones".into(), json!(self.business_phones));
        m.insert("displayName".into(), json!(self.display_name));
        m.insert("givenName".into(), json!(self.given_name));
        m.insert("jobTitle".into(), json!(self.job_title));
        m.insert("mail".into(), json!(self.mail));
        m.insert("mobilePhone".into(), Value::Null);
        m.insert("officeLocation".into(), json!(self.office_location));
        m.insert("preferredLanguage".into(), json!("en-GB"));
        m.insert("surname".into(), json!(self.surname));
        m.insert("userPrincipalName".into(), json!(self.upn));
        m.insert("id".into(), json!(self.id));
        m.insert("department".into(), json!(self.department));
        m.insert("accountEnabled".into(), json!(true));
        m.insert("userType".into(), json!("Member"));
        m
    }

    /// The projection `$select` asks for (`None`: the default set), in the order asked.
    pub(crate) fn project(&self, select: Option<&[&'static str]>) -> Map<String, Value> {
        let all = self.properties();
        let fields: &[&str] = select.unwrap_or(&DEFAULT_PROPERTIES);
        fields.iter().map(|f| ((*f).to_string(), all.get(*f).cloned().unwrap_or(Value::Null))).collect()
    }

    /// The value a `$search` clause on `property` looks at.
    pub(crate) fn searchable(&self, property: &str) -> Option<&str> {
        match property {
            "displayName" => Some(&self.display_name),
            "givenName" => self.given_name.as_deref(),
            "surname" => self.surname.as_deref(),
            "mail" => self.mail.as_deref(),
            "userPrincipalName" => Some(&self.upn),
            "jobTitle" => self.job_title.as_deref(),
            "department" => self.department.as_deref(),
            _ => None,
        }
    }
}

/// Everyone in the tenant, agents first, then experts, in scenario order.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    pub users: Vec<User>,
    by_id: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
}

impl Directory {
    pub(crate) fn from_scenario(s: &Scenario) -> Directory {
        let mut users = Vec::new();
        for a in &s.agents {
            let (given, surname) = split_name(&a.name);
            users.push(User {
                id: a.id.clone(),
                display_name: a.name.clone(),
                given_name: Some(given),
                surname,
                upn: a.upn.clone(),
                mail: Some(a.upn.clone()),
                job_title: a.job_title.clone(),
                department: Some("Contact Center".into()),
                business_phones: Vec::new(),
                office_location: None,
                expert: None,
                presence: Presence::AVAILABLE,
            });
        }
        for (i, e) in s.experts.iter().enumerate() {
            users.push(User {
                id: e.id.clone(),
                display_name: e.name.clone(),
                given_name: Some(e.given_name.clone()),
                surname: (!e.surname.is_empty()).then(|| e.surname.clone()),
                upn: e.upn.clone(),
                mail: Some(e.mail.clone()),
                job_title: e.job_title.clone(),
                department: e.department.clone(),
                business_phones: e.phone.iter().cloned().collect(),
                office_location: None,
                expert: Some(i),
                presence: e.presence,
            });
        }
        let by_id = users.iter().enumerate().map(|(i, u)| (u.id.to_ascii_lowercase(), i)).collect();
        let by_upn = users.iter().enumerate().map(|(i, u)| (u.upn.to_ascii_lowercase(), i)).collect();
        Directory { users, by_id, by_upn }
    }

    /// A user by object id or user principal name (Graph accepts both in `/users/{id}`).
    pub(crate) fn find(&self, id_or_upn: &str) -> Option<usize> {
        let key = id_or_upn.trim().to_ascii_lowercase();
        self.by_id.get(&key).or_else(|| self.by_upn.get(&key)).copied()
    }

    /// The user behind expert `i`.
    pub(crate) fn expert_user(&self, i: usize) -> Option<usize> {
        self.users.iter().position(|u| u.expert == Some(i))
    }

    /// An expert by id, UPN, or display name (case-insensitive), for commands.
    pub(crate) fn find_expert(&self, name: &str) -> Option<usize> {
        let by_key = self.find(name).filter(|u| self.users[*u].expert.is_some());
        by_key
            .or_else(|| {
                self.users.iter().position(|u| u.expert.is_some() && u.display_name.eq_ignore_ascii_case(name.trim()))
            })
            .and_then(|u| self.users[u].expert)
    }
}

fn split_name(name: &str) -> (String, Option<String>) {
    match name.split_once(' ') {
        Some((g, s)) => (g.to_string(), Some(s.to_string())),
        None => (name.to_string(), None),
    }
}

/// The lower-cased words of a value, as `$search` tokenises it: split at
/// anything that is not a letter or digit (so `oscar.ward@contoso.com`
/// is `oscar`, `ward`, `contoso`, `com`).
pub(crate) fn words(value: &str) -> impl Iterator<Item = String> + '_ {
    value.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_found_by_id_upn_and_experts_by_name() {
        let s = Scenario::default_scenario();
        let d = Directory::from_scenario(&s);
        assert_eq!(d.users.len(), s.agents.len() + s.experts.len());
        let priya = &s.experts[0];
        let u = d.find(&priya.id).expect("by id");
        assert_eq!(d.find(&priya.upn.to_uppercase()), Some(u), "UPNs are case-insensitive");
        assert_eq!(d.find_expert("priya natarajan"), Some(0));
        assert_eq!(d.find_expert(&s.agents[0].upn), None, "an agent is not an expert");
        assert_eq!(d.expert_user(0), Some(u));
    }

    #[test]
    fn the_default_projection_is_graphs() {
        let d = Directory::from_scenario(&Scenario::default_scenario());
        let p = d.users[0].project(None);
        let mut keys: Vec<&str> = p.keys().map(String::as_str).collect();
        let mut expected = DEFAULT_PROPERTIES.to_vec();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        let p = d.users[0].project(Some(&["id", "displayName"]));
        assert_eq!(p.len(), 2);
        assert_eq!(words("Oscar.Ward@contoso.com").collect::<Vec<_>>(), ["oscar", "ward", "contoso", "com"]);
    }
}
