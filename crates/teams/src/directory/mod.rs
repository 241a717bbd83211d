//! The expert directory: Graph people search, the agent's own favourites
//! and skill tags, and the SIP target for a consult call.

mod dial;
mod shortlist;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use url::Url;

pub use dial::{normalize_e164, resolve_dial_target};
pub use shortlist::{JsonShortlistStore, MemoryShortlistStore, Shortlist, ShortlistStore};

use crate::Error;
use crate::config::DirectoryConfig;
use crate::graph::{Graph, Permission, json};

/// The fields Warmline shows or dials; `$select` asks for these and no more.
pub const SELECT: &str = "id,displayName,userPrincipalName,mail,jobTitle,department,businessPhones";

/// A person who can take a consult call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expert {
    /// The Entra object id. Graph always returns it when `$select` names it;
    /// the docs' own search example omits it, so it is optional here.
    #[serde(default)]
    pub id: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The sign-in name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// The mail address.
    #[serde(default)]
    pub mail: Option<String>,
    /// The job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// The department.
    #[serde(default)]
    pub department: Option<String>,
    /// Office numbers, as entered in Entra (not necessarily E.164).
    #[serde(default)]
    pub business_phones: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct UserList {
    #[serde(default)]
    value: Vec<Expert>,
    /// The next page, when Graph has more.
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Searches the tenant's people.
#[derive(Debug, Clone)]
pub struct Directory {
    graph: Graph,
    config: DirectoryConfig,
}

impl Directory {
    /// A directory over `graph` with the default limits (25 people a page,
    /// up to 100 a search).
    pub fn new(graph: Graph) -> Self {
        Directory { graph, config: DirectoryConfig::default() }
    }

    /// A directory over `graph` with the configured limits (see
    /// [`DirectoryConfig::validate`]; out-of-range values are clamped here).
    pub fn with_config(graph: Graph, config: &DirectoryConfig) -> Self {
        let config = DirectoryConfig {
            page_size: config.page_size.clamp(1, crate::config::MAX_PAGE_SIZE),
            max_results: config.max_results.clamp(1, crate::config::MAX_SEARCH_RESULTS),
        };
        Directory { graph, config }
    }

    /// People whose display name or mail matches `text` (word prefix, as
    /// Graph's `$search` does), up to `max_results`. `ConsistencyLevel:
    /// eventual` is required by Graph for `$search` on users (without it
    /// Graph answers 400) and is sent with every page. `@odata.nextLink` is
    /// followed only when it is on the configured Graph origin: the request
    /// carries the bearer token, so any other host is refused.
    pub async fn search(&self, now: Instant, text: &str) -> Result<Vec<Expert>, Error> {
        let Some(term) = search_term(text) else { return Ok(Vec::new()) };
        let search = format!("\"displayName:{term}\" OR \"mail:{term}\"");
        let max = self.config.max_results;
        let top = u32::try_from(max).unwrap_or(u32::MAX).min(self.config.page_size).to_string();
        let mut url = self.graph.url(&["users"]);
        url.query_pairs_mut().append_pair("$search", &search).append_pair("$select", SELECT).append_pair("$top", &top);
        let mut found = Vec::new();
        loop {
            let reply = self
                .graph
                .call(now, Permission::UserReadBasicAll, |c| c.get(url.clone()).header("ConsistencyLevel", "eventual"))
                .await?;
            let page = json::<UserList>(&reply, "/users search")?;
            let empty = page.value.is_empty();
            found.extend(page.value);
            // An empty page ends the search even with a nextLink, so a
            // server that keeps linking cannot keep us asking forever.
            let Some(next) = page.next_link.filter(|_| found.len() < max && !empty) else { break };
            url = self.next_page(&next)?;
        }
        found.truncate(max);
        Ok(found)
    }

    /// The nextLink as a URL on the configured Graph origin, or an error.
    fn next_page(&self, link: &str) -> Result<Url, Error> {
        let next = Url::parse(link)
            .map_err(|e| Error::Protocol(format!("/users search gave an @odata.nextLink that is not a URL: {e}")))?;
        let base = self.graph.base();
        if next.origin() != base.origin() {
            return Err(Error::Protocol(format!(
                "/users search gave an @odata.nextLink on {}, not on the configured Graph {}; \
                 it was not followed, so the access token stays with Graph",
                next.origin().ascii_serialization(),
                base.origin().ascii_serialization()
            )));
        }
        Ok(next)
    }
}

/// The search text without the characters that would break out of the
/// quoted `$search` clause. `None` when nothing searchable is left.
fn search_term(text: &str) -> Option<String> {
    let term: String = text.chars().filter(|c| !matches!(c, '"' | '\\')).collect::<String>().trim().to_string();
    (!term.is_empty()).then_some(term)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_search_responses_parse_despite_their_quirks() {
        let body = include_str!("../../tests/fixtures/users-search.response.json");
        let list: UserList = serde_json::from_str(body).expect("parses");
        assert_eq!(list.value.len(), 1, "@odata.count says 7 but the docs list one");
        assert_eq!(list.value[0].display_name.as_deref(), Some("Oscar Ward"));
        assert_eq!(list.value[0].id, None, "the docs' example has no id");
        let body = include_str!("../../tests/fixtures/users-search-or.response.json");
        let list: UserList = serde_json::from_str(body).expect("parses");
        assert_eq!(list.value[1].mail.as_deref(), Some("'contosoadmin1@fabrikam.com"), "odd values are kept verbatim");
        let body = include_str!("../../tests/fixtures/users-list.response.json");
        let list: UserList = serde_json::from_str(body).expect("parses");
        assert_eq!(list.value[1].business_phones, vec!["425-555-0100"]);
    }

    #[test]
    fn search_text_cannot_escape_its_quotes() {
        assert_eq!(search_term(r#"wa" OR "displayName:a"#).as_deref(), Some("wa OR displayName:a"));
        assert_eq!(search_term("  \" "), None);
    }
}
