//! The lab's clock. Token lifetimes, code expiry and the presence schedule
//! read time from here and nowhere else, so a test can run the lab on a
//! manual clock and move an hour ahead without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock or manual time, in Unix milliseconds. Cheap to clone; clones
/// share the same time.
#[derive(Debug, Clone)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stands still at `unix_ms` until [`Clock::advance`] moves it.
    pub fn manual(unix_ms: u64) -> Self {
        Clock { manual: Some(Arc::new(AtomicU64::new(unix_ms))) }
    }

    /// Whether this clock only moves when told to.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// The current time in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => {
                let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            }
        }
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) on the system clock.
    pub fn advance(&self, ms: u64) -> bool {
        match &self.manual {
            Some(t) => {
                t.fetch_add(ms, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

/// `2020-08-18T12:51:51` (UTC, Graph's `innerError.date` format).
pub(crate) fn iso_seconds(unix_ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
}

/// `2016-01-09 02:02:12Z` (Entra's `timestamp` format).
pub(crate) fn entra_timestamp(unix_ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// Calendar date and time of day (UTC) from Unix milliseconds
/// (Howard Hinnant's days-from-civil, inverted).
fn civil(unix_ms: u64) -> (i64, u32, u32, u64, u64, u64) {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_graphs_and_entras_formats() {
        // 2020-08-18T12:51:51Z, the date in Graph's documented 429 body.
        assert_eq!(iso_seconds(1_597_755_111_000), "2020-08-18T12:51:51");
        // 2016-01-09 02:02:12Z, the timestamp in Entra's documented error.
        assert_eq!(entra_timestamp(1_452_304_932_000), "2016-01-09 02:02:12Z");
        assert_eq!(iso_seconds(951_782_400_000), "2000-02-29T00:00:00", "leap day");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        let shared = c.clone();
        assert!(c.advance(500));
        assert_eq!(shared.now_ms(), 1_500);
        assert!(!Clock::system().advance(1), "the system clock cannot be moved");
    }
}
