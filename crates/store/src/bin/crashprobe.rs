//! A child process for the store's integration tests. Not shipped.
//!
//! * `warmline-store-crashprobe save DB` saves notes in a loop with the key in
//!   `WARMLINE_CRASHPROBE_KEY` (hex) and prints `acked ID REVISION BODY` after
//!   each save returns, until it is killed.
//! * `warmline-store-crashprobe open-keyring DB` opens the database with its
//!   key from the OS keyring and exits: the fail-closed test runs it without
//!   a D-Bus session.

use std::io::Write;
use std::path::PathBuf;

use warmline_secrets::{Keyring, Secret};
use warmline_store::{Encryption, NewNote, Options, Store, Timestamp};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("save"), Some(db)) => save_forever(PathBuf::from(db)),
        (Some("open-keyring"), Some(db)) => open_with_keyring(PathBuf::from(db)),
        _ => Err("usage: warmline-store-crashprobe save|open-keyring DB".into()),
    };
    if let Err(e) = result {
        eprintln!("warmline-store-crashprobe: {e}");
        std::process::exit(1);
    }
}

fn save_forever(db: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let hex = std::env::var("WARMLINE_CRASHPROBE_KEY")?;
    let key = Secret::from_bytes(
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16)).collect::<Result<Vec<u8>, _>>()?,
    );
    let store = Store::open_with(&db, Encryption::Key(key), &Options::default(), Timestamp::now())?.store;
    let mut out = std::io::stdout().lock();
    let pid = std::process::id();
    for i in 0u64.. {
        let now = Timestamp::now();
        let id = store.create_note(&NewNote { call_uid: Some(format!("call-{pid}")), ..NewNote::default() }, now)?;
        store.save_draft(id, &format!("draft {pid}-{i}"), now)?;
        let body = format!("note {pid}-{i} {}", "x".repeat(usize::try_from(i % 300).unwrap_or(0)));
        let revision = store.save_note(id, &body, now)?;
        writeln!(out, "acked {} {revision} {body}", id.0)?;
        out.flush()?;
    }
    Ok(())
}

fn open_with_keyring(db: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let keyring = Keyring::open()?;
    Store::open(&db, &keyring, &Options::default(), Timestamp::now())?;
    println!("opened");
    Ok(())
}
