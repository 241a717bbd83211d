//! The agent's own list: favourite experts and the skill tags the agent
//! gave them. Kept on this machine only (Graph has no place for it); behind
//! a trait so the store crate can take it over later.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Expert;
use crate::Error;

/// Favourites and skill tags, keyed by Graph user id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shortlist {
    /// Favourite experts: polled first, shown first.
    pub favourites: BTreeMap<String, Expert>,
    /// Skill tags per user id ("billing", "spanish").
    pub tags: BTreeMap<String, BTreeSet<String>>,
}

impl Shortlist {
    /// Adds a favourite; experts without an id cannot be watched and are refused.
    pub fn add_favourite(&mut self, expert: Expert) -> Result<(), Error> {
        let id = expert.id.clone().ok_or_else(|| Error::NoDialTarget {
            expert: expert.display_name.clone().unwrap_or_default(),
            reason: "Graph returned this person without an id".into(),
        })?;
        self.favourites.insert(id, expert);
        Ok(())
    }

    /// Removes a favourite (its tags stay).
    pub fn remove_favourite(&mut self, id: &str) {
        self.favourites.remove(id);
    }

    /// Tags `id` with `tag` (trimmed, lower case).
    pub fn tag(&mut self, id: &str, tag: &str) {
        let tag = tag.trim().to_lowercase();
        if !tag.is_empty() {
            self.tags.entry(id.to_string()).or_default().insert(tag);
        }
    }

    /// Favourite ids, for the presence poller.
    pub fn favourite_ids(&self) -> Vec<String> {
        self.favourites.keys().cloned().collect()
    }

    /// Favourites carrying `tag`.
    pub fn with_tag<'a>(&'a self, tag: &str) -> impl Iterator<Item = &'a Expert> + 'a {
        let tag = tag.trim().to_lowercase();
        self.favourites
            .iter()
            .filter(move |(id, _)| self.tags.get(*id).is_some_and(|t| t.contains(&tag)))
            .map(|(_, e)| e)
    }
}

/// Where the shortlist is kept.
pub trait ShortlistStore: Send + Sync + fmt::Debug {
    /// The stored shortlist, empty when there is none yet.
    fn load(&self) -> Result<Shortlist, Error>;
    /// Replaces the stored shortlist.
    fn save(&self, list: &Shortlist) -> Result<(), Error>;
}

/// A JSON file, written atomically (temporary file, then rename).
#[derive(Debug, Clone)]
pub struct JsonShortlistStore {
    path: PathBuf,
}

impl JsonShortlistStore {
    /// Keeps the shortlist in `path` (for example `<data dir>/experts.json`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonShortlistStore { path: path.into() }
    }

    fn err(&self, e: impl fmt::Display) -> Error {
        Error::Storage { path: self.path.clone(), reason: e.to_string() }
    }
}

impl ShortlistStore for JsonShortlistStore {
    fn load(&self) -> Result<Shortlist, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Shortlist::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn save(&self, list: &Shortlist) -> Result<(), Error> {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.err(e))?;
        let json = serde_json::to_vec_pretty(list).map_err(|e| self.err(e))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(|e| self.err(e))?;
        file.write_all(&json).and_then(|()| file.sync_all()).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))
    }
}

/// In memory, for tests and the lab.
#[derive(Debug, Default)]
pub struct MemoryShortlistStore {
    list: Mutex<Shortlist>,
}

impl ShortlistStore for MemoryShortlistStore {
    fn load(&self) -> Result<Shortlist, Error> {
        Ok(self.list.lock().map_err(|_| Error::Protocol("shortlist lock poisoned".into()))?.clone())
    }

    fn save(&self, list: &Shortlist) -> Result<(), Error> {
        *self.list.lock().map_err(|_| Error::Protocol("shortlist lock poisoned".into()))? = list.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expert(id: &str, name: &str) -> Expert {
        Expert {
            id: Some(id.into()),
            display_name: Some(name.into()),
            user_principal_name: None,
            mail: None,
            job_title: None,
            department: None,
            business_phones: vec![],
        }
    }

    #[test]
    fn json_file_round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = JsonShortlistStore::new(dir.path().join("sub").join("experts.json"));
        assert_eq!(store.load().expect("missing file is empty"), Shortlist::default());
        let mut list = Shortlist::default();
        list.add_favourite(expert("id-1", "Oscar Ward")).expect("has id");
        list.tag("id-1", " Billing ");
        list.tag("id-1", "spanish");
        store.save(&list).expect("save");
        let back = store.load().expect("load");
        assert_eq!(back, list);
        assert_eq!(back.with_tag("billing").count(), 1);
        assert_eq!(back.favourite_ids(), vec!["id-1"]);
    }

    #[test]
    fn experts_without_an_id_cannot_be_favourites() {
        let mut list = Shortlist::default();
        let mut e = expert("x", "Oscar Ward");
        e.id = None;
        assert!(list.add_favourite(e).is_err());
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("experts.json");
        std::fs::write(&path, "{not json").expect("write");
        let store = JsonShortlistStore::new(&path);
        assert!(matches!(store.load(), Err(Error::Storage { .. })));
        let memory = MemoryShortlistStore::default();
        memory.save(&Shortlist::default()).expect("save");
        assert_eq!(memory.load().expect("load"), Shortlist::default());
    }
}
