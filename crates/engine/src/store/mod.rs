//! The engine's store: containers, events, volumes, networks and endpoints
//! in SQLite (WAL, synchronous=NORMAL): whatever a command reported done
//! survives the SIGKILL of any process, and CLI processes, supervisors and a
//! server use it at the same time.
//!
//! A `Store` is shared by threads: each operation checks a connection out of
//! a small pool (opening one when none is idle) and gives it back when done,
//! so a transaction always runs on one connection and two threads never share
//! one. Writers wait for each other through a busy handler (30 s,
//! `skiff_image::sqlite::Busy::Store`).

mod containers;
mod events;
mod objects;
pub(crate) mod schema;

pub use events::{Event, EventQuery};
pub use objects::{Expect, ObjectKey, ObjectWrite, StoredObject};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("container store {path}: {err}")]
    Db { path: String, err: rusqlite::Error },
    #[error(
        "container store {path} has schema version {found}, newer than this skiff ({supported})"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("{0} already exists")]
    ObjectExists(ObjectKey),
    #[error("{0} not found")]
    NoSuchObject(ObjectKey),
    #[error("{0} was changed by another writer")]
    ObjectChanged(ObjectKey),
    #[error("container store: stored {what} of {id} is invalid: {err}")]
    Corrupt {
        id: String,
        what: &'static str,
        err: String,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Idle connections kept for reuse; more are closed when given back.
const IDLE: usize = 8;
/// A commit that leaves the WAL this long (in pages) checkpoints it, as
/// `wal_autocheckpoint` (skiff_image::sqlite::open) would.
const AUTOCHECKPOINT: i32 = 100;

/// How many pages the WAL held after this process's last commit (one
/// count per process: a CLI, a supervisor or a server has one store; SQLite's
/// hook is a plain function).
static WAL_PAGES: AtomicI32 = AtomicI32::new(0);

/// SQLite's hook after each commit (in place of `wal_autocheckpoint`'s,
/// with the same bound): notes the WAL's length for
/// [`Store::checkpoint_over`].
fn after_commit(wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.store(pages, Ordering::Relaxed);
    if pages >= AUTOCHECKPOINT {
        // As SQLite's own hook: a checkpoint that cannot finish now is
        // tried again at the next commit.
        let _ = wal.checkpoint();
        WAL_PAGES.store(0, Ordering::Relaxed);
    }
    Ok(())
}

pub struct Store {
    path: PathBuf,
    shown: String,
    idle: Mutex<Vec<Connection>>,
    /// `<store>-notify`: written after each change is committed (see
    /// [`Store::changed`]).
    notify: Option<std::fs::File>,
}

/// A connection checked out of the pool; back in it when dropped.
pub(crate) struct Conn<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a checked-out connection")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("a checked-out connection")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection left inside a transaction (a panic mid-way) is not
        // reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.store.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }
}

impl Store {
    /// Open the store at `path` (made and migrated if need be).
    pub fn open(path: &Path) -> Result<Store> {
        let notify = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(format!("{}-notify", path.display()))
            .ok();
        let s = Store {
            path: path.to_path_buf(),
            shown: path.display().to_string(),
            idle: Mutex::new(Vec::new()),
            notify,
        };
        let mut conn = s.connect()?;
        skiff_image::sqlite::migrate(&mut conn, &schema::MIGRATIONS).map_err(|e| match e {
            skiff_image::sqlite::MigrateError::Db(err) => s.err(err),
            skiff_image::sqlite::MigrateError::TooNew { found, supported } => StoreError::TooNew {
                path: s.shown.clone(),
                found,
                supported,
            },
        })?;
        s.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        Ok(s)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = skiff_image::sqlite::open(&self.path, skiff_image::sqlite::Busy::Store, "")
            .map_err(|e| self.err(e))?;
        conn.wal_hook(Some(after_commit));
        Ok(conn)
    }

    /// Checkpoint the WAL and cut it to nothing if it held at least `pages`
    /// pages after this process's last commit: for a moment when nobody
    /// waits on this process (a supervisor once its client heard of the
    /// exit, or going idle), so that the checkpoint a commit would
    /// otherwise take on (see [`after_commit`]) seldom falls in a command's
    /// or a start's time. Cut, not only checkpointed: the next process to
    /// open the store after all others closed it would count the
    /// checkpointed pages again, and its commits would reach the bound just
    /// as soon. Waits at most a moment for other readers and writers.
    pub(crate) fn checkpoint_over(&self, pages: i32) {
        if WAL_PAGES.load(Ordering::Relaxed) < pages {
            return;
        }
        if let Ok(conn) = self.conn() {
            let _ = skiff_image::sqlite::set_busy(&conn, skiff_image::sqlite::Busy::Moment);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = skiff_image::sqlite::set_busy(&conn, skiff_image::sqlite::Busy::Store);
            WAL_PAGES.store(0, Ordering::Relaxed);
        }
    }

    /// Close the idle connections, and with them their SQLite caches: for a
    /// holder that goes quiet for long (an idle supervisor). The next
    /// operation opens a connection again.
    pub(crate) fn close_idle(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        drop(idle);
    }

    /// A connection of the pool's (a new one when none is idle).
    pub(crate) fn conn(&self) -> Result<Conn<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        Ok(Conn {
            store: self,
            conn: Some(conn),
        })
    }

    /// Say a change was committed: a write to `<store>-notify`, which the
    /// engine's notifier (`crate::notify`) watches. The store's own files
    /// are no such signal: a commit's last write to the WAL comes before the
    /// commit is visible to readers (the WAL index is shared memory), so a
    /// waiter woken by it could read the state before the change.
    pub(crate) fn changed(&self) {
        if let Some(f) = &self.notify {
            use std::os::unix::fs::FileExt;
            let _ = f.write_at(b"\n", 0);
        }
    }

    /// A database error, named after this store.
    pub(crate) fn err(&self, err: rusqlite::Error) -> StoreError {
        StoreError::Db {
            path: self.shown.clone(),
            err,
        }
    }

    pub(crate) fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |err| self.err(err)
    }

    /// [`write`](Self::write), then [`changed`](Self::changed).
    pub(crate) fn write_and_say<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let v = self.write(f)?;
        self.changed();
        Ok(v)
    }

    /// Run `f` in one write transaction (taken at once, so two writers never
    /// both read first), committed when it returns Ok.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.db())?;
        let v = f(&tx)?;
        tx.commit().map_err(self.db())?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
