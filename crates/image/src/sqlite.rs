//! What skiff's SQLite databases (the image catalog, the engine's store)
//! share: opening one in WAL mode with synchronous=NORMAL (whatever a command
//! reported done survives the SIGKILL of any process; several processes use
//! it at once), waiting out SQLITE_BUSY where SQLite's own busy handler does
//! not, and migrating its schema, numbered by `PRAGMA user_version`.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Is `e` SQLite's "the database is busy/locked"?
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Run `f` again while it fails with SQLITE_BUSY (up to ~5 s): for the steps
/// SQLite's busy handler does not wait on (changing the journal mode, a
/// first migration racing another process's).
pub fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if is_busy(&e) && tries < 500 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

/// How long a connection waits for another writer (or for another
/// process's opening of the WAL index) before it fails with SQLITE_BUSY.
#[derive(Debug, Clone, Copy)]
pub enum Busy {
    /// The engine's store: 30 s.
    Store,
    /// The image catalog: 10 s.
    Catalog,
    /// A moment (100 ms), for work that may as well be left for later.
    Moment,
}

/// Make `conn` wait as long as `busy` says for others' locks.
pub fn set_busy(conn: &Connection, busy: Busy) -> rusqlite::Result<()> {
    conn.busy_handler(Some(match busy {
        Busy::Store => wait_busy::<30_000>,
        Busy::Catalog => wait_busy::<10_000>,
        Busy::Moment => wait_busy::<100>,
    }))
}

/// SQLite's busy handler for a connection that waits up to `MS` milliseconds,
/// `n` the number of retries before this one: short sleeps first, longer
/// ones later. What a connection waits for is mostly another's commit or
/// another process's rebuilding of the WAL index, a fraction of a
/// millisecond, while SQLite's own handler (`busy_timeout`) sleeps 1 ms at
/// its first retry: that was the most common wait of two processes opening
/// the store at once, as `run`'s CLI and its supervisor do.
fn wait_busy<const MS: u64>(n: std::ffi::c_int) -> bool {
    let n = n.max(0) as u64;
    // Slept so far, and this retry's sleep, in microseconds.
    let (spent, sleep) = match n {
        0..20 => (n * 50, 50),
        20..60 => (1_000 + (n - 20) * 500, 500),
        _ => (21_000 + (n - 60) * 5_000, 5_000),
    };
    if spent >= MS * 1_000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(sleep));
    true
}

/// A connection to the database at `path` (made if missing), in WAL mode
/// with synchronous=NORMAL, waiting up to `busy` for other writers, with
/// `pragmas` (more `PRAGMA ...;` statements) run on it.
///
/// The last connection does not checkpoint when it closes
/// (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`), and so leaves the WAL and its index
/// (`-wal`, `-shm`) in place. A checkpoint at close took two fsyncs at the
/// end of nearly every command, and removing the two files and making them
/// again in the next process cost an ext4 without a journal a scan past
/// every recently freed inode and a discard of each freed block. Instead,
/// a commit checkpoints once the WAL holds 100 pages
/// (`wal_autocheckpoint`), doing the work of several commands at once. The
/// bound matters: the first process to open the database after all others
/// closed it rebuilds the WAL's index by reading every frame written since
/// the last checkpoint (SQLite's default, 1,000 pages, let that be 4 MiB).
/// Committed transactions are in the WAL, which is what readers read, and
/// survive the SIGKILL of any process; a power failure may take back those
/// since the last checkpoint (the database stays consistent), as it could
/// under a long-running `skiff serve` before. The WAL keeps its size, cut
/// back to 1 MiB (`journal_size_limit`) if a large transaction grew it past
/// that.
pub fn open(path: &Path, busy: Busy, pragmas: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    set_busy(&conn, busy)?;
    // Two processes opening a new database at once: switching it to WAL
    // takes a lock the busy handler does not wait for.
    retry_busy(|| {
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
             PRAGMA wal_autocheckpoint=100; PRAGMA journal_size_limit=1048576; {pragmas}"
        ))
    })?;
    Ok(conn)
}

/// Why a schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrateError {
    Db(rusqlite::Error),
    /// The database was made by a newer skiff.
    TooNew {
        found: i64,
        supported: i64,
    },
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Db(e)
    }
}

/// Bring the schema to version `migrations.len()`: migration `i` takes it
/// from version `i` to `i + 1`, each in the one transaction that records
/// the new version. A database already current costs one read; racing
/// another process's migration waits for it.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), MigrateError> {
    let latest = migrations.len() as i64;
    let mut tries = 0;
    loop {
        match migrate_once(conn, migrations, latest) {
            Err(MigrateError::Db(e)) if is_busy(&e) && tries < 500 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

fn migrate_once(
    conn: &mut Connection,
    migrations: &[&str],
    latest: i64,
) -> Result<(), MigrateError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == latest {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > latest {
        return Err(MigrateError::TooNew {
            found: version,
            supported: latest,
        });
    }
    for (i, m) in migrations.iter().enumerate().skip(version as usize) {
        tx.execute_batch(m)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_wait_starts_short_and_gives_up_after_its_time() {
        let t = std::time::Instant::now();
        for n in 0..20 {
            assert!(wait_busy::<100>(n));
        }
        // Twenty first retries: 1 ms of sleep, not SQLite's 20 ms or more.
        assert!(t.elapsed() < Duration::from_millis(15), "{:?}", t.elapsed());
        assert!(wait_busy::<100>(75));
        assert!(!wait_busy::<100>(76));
        assert!(wait_busy::<30_000>(76));
    }

    #[test]
    fn the_wal_outlives_the_last_connection_unchecked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        let c = open(&p, Busy::Catalog, "").unwrap();
        c.execute_batch("CREATE TABLE a (x); INSERT INTO a VALUES (7);")
            .unwrap();
        drop(c);
        // Neither removed nor checkpointed into the database by the close.
        for ext in ["t.db-wal", "t.db-shm"] {
            assert!(d.path().join(ext).exists(), "{ext} was removed");
        }
        // Page 1 was written when the database went to WAL mode; the
        // table's page is only in the WAL.
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            4096,
            "checkpointed at close"
        );
        let c = open(&p, Busy::Catalog, "").unwrap();
        let x: i64 = c.query_row("SELECT x FROM a", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    /// What the next process to open the database reads to rebuild the
    /// WAL's index stays small: commits checkpoint every 100 pages.
    #[test]
    fn the_wal_holds_at_most_about_100_pages() {
        let d = tempfile::tempdir().unwrap();
        let c = open(&d.path().join("t.db"), Busy::Catalog, "").unwrap();
        c.execute_batch("CREATE TABLE a (x BLOB)").unwrap();
        for _ in 0..300 {
            c.execute("INSERT INTO a VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        let (_, frames): (i64, i64) = c
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(frames <= 110, "{frames} frames in the WAL");
    }

    #[test]
    fn migrations_run_once_in_order_and_a_newer_schema_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        let steps = ["CREATE TABLE a (x);", "ALTER TABLE a ADD COLUMN y;"];
        let mut c = open(&p, Busy::Catalog, "").unwrap();
        migrate(&mut c, &steps[..1]).unwrap();
        migrate(&mut c, &steps).unwrap();
        // A second run changes nothing (the ALTER would fail if it ran again).
        migrate(&mut c, &steps).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
        c.execute("INSERT INTO a (x, y) VALUES (1, 2)", []).unwrap();
        match migrate(&mut c, &steps[..1]) {
            Err(MigrateError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (2, 1))
            }
            other => panic!("{other:?}"),
        }
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
