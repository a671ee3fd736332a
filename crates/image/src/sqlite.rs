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
pub fn open(path: &Path, busy: Duration, pragmas: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    conn.busy_timeout(busy)?;
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
    fn the_wal_outlives_the_last_connection_unchecked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        let c = open(&p, Duration::from_secs(1), "").unwrap();
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
        let c = open(&p, Duration::from_secs(1), "").unwrap();
        let x: i64 = c.query_row("SELECT x FROM a", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    /// What the next process to open the database reads to rebuild the
    /// WAL's index stays small: commits checkpoint every 100 pages.
    #[test]
    fn the_wal_holds_at_most_about_100_pages() {
        let d = tempfile::tempdir().unwrap();
        let c = open(&d.path().join("t.db"), Duration::from_secs(1), "").unwrap();
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
        let mut c = open(&p, Duration::from_secs(1), "").unwrap();
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
