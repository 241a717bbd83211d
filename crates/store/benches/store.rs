//! `cargo bench -p warmline-store` (or `make bench`): plain timings of the
//! store's targets. Figures, not assertions: note save to durable (p50/p99,
//! encrypted and not), full-text search p99 over 100,000 notes, and the time
//! to open that database (with the full integrity check deferred, and at open).

use std::time::{Duration, Instant};

use warmline_secrets::Secret;
use warmline_store::{Encryption, IntegrityCheck, NewNote, NoteId, Options, Store, Timestamp};

/// A vocabulary with a realistic skew: a few words are in most notes, most
/// words in few (log-uniform ranks, close to Zipf's law).
struct Vocabulary(Vec<String>);

impl Vocabulary {
    fn new(size: usize) -> Self {
        const SYLLABLES: [&str; 24] = [
            "ro", "ter", "mo", "dem", "bil", "ling", "re", "fund", "in", "voice", "out", "age", "fi", "bre", "con",
            "tract", "up", "grade", "can", "cel", "en", "gi", "neer", "pay",
        ];
        let words = (0..size)
            .map(|i| {
                let (a, b, c) = (i % 24, (i / 24) % 24, (i / 576) % 24);
                format!("{}{}{}", SYLLABLES[a], SYLLABLES[b], if i >= 576 { SYLLABLES[c] } else { "" })
            })
            .collect();
        Vocabulary(words)
    }

    fn word(&self, rng: &mut Lcg) -> &str {
        let rank = (self.0.len() as f64).powf(rng.unit()) as usize - 1;
        &self.0[rank.min(self.0.len() - 1)]
    }

    fn sentence(&self, rng: &mut Lcg, words: usize) -> String {
        (0..words).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notes: usize = std::env::var("WARMLINE_BENCH_NOTES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    println!("warmline-store bench ({notes} notes for search and open)");

    let vocabulary = Vocabulary::new(5_000);
    for (label, key) in [("encrypted", Some(Secret::random(32))), ("plaintext", None)] {
        let path = dir.path().join(format!("save-{label}.db"));
        let store = open(&path, key.as_ref());
        let mut rng = Lcg(1);
        let mut samples = Vec::new();
        for i in 0..2_000 {
            let id = store.create_note(&NewNote::default(), Timestamp::from_millis(i)).expect("create");
            let body = vocabulary.sentence(&mut rng, 40);
            let start = Instant::now();
            store.save_note(id, &body, Timestamp::from_millis(i)).expect("save");
            samples.push(start.elapsed());
        }
        println!(
            "save to durable ({label}):   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} saves, fsync each)",
            ms(percentile(&mut samples, 0.50)),
            ms(percentile(&mut samples, 0.99)),
            samples.len()
        );
    }

    let key = Secret::random(32);
    let path = dir.path().join("search.db");
    {
        drop(open(&path, Some(&key)));
        let mut rng = Lcg(2);
        let start = Instant::now();
        bulk_load(&path, &key, notes, || vocabulary.sentence(&mut rng, 40));
        println!("filled {notes} encrypted notes in {:.1} s", start.elapsed().as_secs_f64());
    }

    for integrity in [IntegrityCheck::Deferred, IntegrityCheck::AtOpen] {
        let mut opens = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let store = open_checked(&path, Some(&key), integrity);
            opens.push(start.elapsed());
            drop(store);
        }
        println!(
            "open ({notes} notes, encrypted, integrity check {integrity:?}):   median {:>8.1} ms",
            ms(percentile(&mut opens, 0.5))
        );
    }
    let store = open_checked(&path, Some(&key), IntegrityCheck::Deferred);
    let start = Instant::now();
    assert!(store.check_integrity().expect("check").is_empty());
    println!("background integrity check ({notes} notes):   {:>8.1} ms", ms(start.elapsed()));
    drop(store);

    let store = open(&path, Some(&key));
    let mut rng = Lcg(3);
    let vocabulary = &vocabulary;
    let mut samples = Vec::new();
    let mut hits = 0;
    let mut slowest = Vec::new();
    for i in 0..500 {
        let query = match i % 3 {
            0 => vocabulary.word(&mut rng).to_string(),
            1 => format!("{} {}", vocabulary.word(&mut rng), vocabulary.word(&mut rng)),
            _ => vocabulary.word(&mut rng).chars().take(4).collect(),
        };
        let start = Instant::now();
        hits += store.search(&query, 20).expect("search").len();
        samples.push(start.elapsed());
        slowest.push((start.elapsed(), query));
    }
    slowest.sort();
    for (took, query) in slowest.iter().rev().take(5) {
        println!("   slow: {:>8.3} ms  {query:?}", ms(*took));
    }
    println!(
        "search, top 20 ({notes} notes):   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} queries, {hits} hits)",
        ms(percentile(&mut samples, 0.50)),
        ms(percentile(&mut samples, 0.99)),
        samples.len()
    );
    assert!(store.note(NoteId(1)).is_ok(), "the bulk-loaded notes are readable through the store");
}

/// Fills the database in one transaction (the store's own API commits and
/// fsyncs per note, which is what the save figure measures).
fn bulk_load(path: &std::path::Path, key: &Secret, notes: usize, mut body: impl FnMut() -> String) {
    let mut conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.expose_hex().as_str())).expect("key");
    let tx = conn.transaction().expect("tx");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO notes (uid, body, is_draft, revision, created_at, updated_at) VALUES (?1, ?2, 0, 1, ?3, ?3)",
            )
            .expect("prepare");
        for i in 0..notes {
            insert
                .execute(rusqlite::params![format!("bench-{i}"), body(), i64::try_from(i).expect("small")])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

fn open(path: &std::path::Path, key: Option<&Secret>) -> Store {
    open_checked(path, key, IntegrityCheck::Deferred)
}

fn open_checked(path: &std::path::Path, key: Option<&Secret>, integrity: IntegrityCheck) -> Store {
    let encryption = match key {
        Some(k) => Encryption::Key(k.clone()),
        None => Encryption::Plaintext,
    };
    let options = Options { integrity, ..Options::default() };
    Store::open_with(path, encryption, &options, Timestamp::from_millis(0)).expect("open").store
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
