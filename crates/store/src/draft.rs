//! When to save a draft while the agent types: a sans-IO debouncer.

use std::time::Duration;

use crate::clock::Timestamp;

/// Decides when the text being typed should be written as a draft.
///
/// Saves once typing pauses for `quiet`, and at least every `max_wait` during
/// continuous typing, so at most `max_wait` of typing is ever at risk. It
/// never reads the clock or sets a timer: the shell calls
/// [`DraftDebouncer::edited`] on each change, sleeps until
/// [`DraftDebouncer::deadline`], then asks [`DraftDebouncer::poll`].
///
/// ```
/// use std::time::Duration;
/// use warmline_store::{DraftDebouncer, Timestamp};
///
/// let t = Timestamp::from_millis;
/// let mut d = DraftDebouncer::new(Duration::from_millis(500), Duration::from_secs(5));
/// d.edited(t(0));
/// d.edited(t(300));
/// assert!(!d.poll(t(600)), "typing paused for only 300 ms");
/// assert_eq!(d.deadline(), Some(t(800)));
/// assert!(d.poll(t(800)), "500 ms of quiet: save now");
/// assert_eq!(d.deadline(), None);
/// ```
#[derive(Debug, Clone)]
pub struct DraftDebouncer {
    quiet: Duration,
    max_wait: Duration,
    first_unsaved: Option<Timestamp>,
    last_edit: Option<Timestamp>,
}

impl DraftDebouncer {
    /// Saves after `quiet` without edits, or `max_wait` after the first unsaved edit.
    pub fn new(quiet: Duration, max_wait: Duration) -> Self {
        DraftDebouncer { quiet, max_wait, first_unsaved: None, last_edit: None }
    }

    /// The text changed at `now`.
    pub fn edited(&mut self, now: Timestamp) {
        self.first_unsaved.get_or_insert(now);
        self.last_edit = Some(now);
    }

    /// When the shell should call [`DraftDebouncer::poll`] next; `None` when
    /// nothing is unsaved.
    pub fn deadline(&self) -> Option<Timestamp> {
        let first = self.first_unsaved?;
        let last = self.last_edit?;
        Some(last.plus(self.quiet).min(first.plus(self.max_wait)))
    }

    /// Whether to save now. Returning `true` counts as saved: if the save then
    /// fails, call [`DraftDebouncer::edited`] again to retry.
    pub fn poll(&mut self, now: Timestamp) -> bool {
        match self.deadline() {
            Some(deadline) if now >= deadline => self.flush(),
            _ => false,
        }
    }

    /// Whether anything is unsaved; marks it saved. For leaving the note
    /// field, ending the call or closing the window.
    pub fn flush(&mut self) -> bool {
        self.last_edit = None;
        self.first_unsaved.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn continuous_typing_still_saves_every_max_wait() {
        let mut d = DraftDebouncer::new(Duration::from_millis(500), Duration::from_secs(2));
        let mut saves = Vec::new();
        for ms in (0..5_000).step_by(100) {
            d.edited(t(ms));
            if d.poll(t(ms)) {
                saves.push(ms);
            }
        }
        assert_eq!(saves, [2_000, 4_100], "a keystroke every 100 ms never pauses for 500 ms");
        assert!(d.flush(), "the tail is still unsaved");
        assert!(!d.flush());
    }

    #[test]
    fn nothing_to_save_has_no_deadline() {
        let mut d = DraftDebouncer::new(Duration::from_millis(500), Duration::from_secs(2));
        assert_eq!(d.deadline(), None);
        assert!(!d.poll(t(10_000)));
    }
}
