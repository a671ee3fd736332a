//! The engine's store: containers and events in SQLite (WAL,
//! synchronous=NORMAL): whatever a command reported done survives the SIGKILL
//! of any process, and CLI processes, supervisors and a server may use it at
//! the same time.

use crate::model::{Config, Container, HostConfig, State, Status};
use rusqlite::{params, Connection, OptionalExtension, Row};
use skiff_image::catalog::{is_busy, retry_busy};
use std::path::Path;

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
    #[error("container store: stored {what} of {id} is invalid: {err}")]
    Corrupt {
        id: String,
        what: &'static str,
        err: String,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

const SCHEMA_VERSION: i64 = 6;

const MIGRATIONS: [&str; 6] = [
    "
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        image_id TEXT NOT NULL,
        config TEXT NOT NULL,
        host_config TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        pid_start INTEGER NOT NULL DEFAULT 0,
        supervisor_pid INTEGER NOT NULL DEFAULT 0,
        supervisor_start INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        stopped_by_user INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano INTEGER NOT NULL,
        type TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        attributes TEXT NOT NULL
    );
",
    "
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        labels TEXT NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0
    );
",
    "
    ALTER TABLE containers ADD COLUMN health TEXT;
",
    crate::network::MIGRATION,
    crate::network::MIGRATION_5,
    crate::network::MIGRATION_6,
];

/// One recorded event (`skiff events`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub time_nano: i64,
    pub kind: String,
    pub action: String,
    pub actor: String,
    pub attributes: serde_json::Value,
}

pub struct Store {
    conn: Connection,
    path: String,
}

const COLUMNS: &str = "id, name, created, image_id, config, host_config, status, pid, pid_start,
    supervisor_pid, supervisor_start, exit_code, started_at, finished_at, oom_killed,
    restart_count, error, stopped_by_user, health";

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let p = path.display().to_string();
        let db = |err| StoreError::Db {
            path: p.clone(),
            err,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        // Two processes opening a new store at once: switching it to WAL and
        // migrating take locks the busy handler does not wait for. Retry.
        retry_busy(|| conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"))
            .map_err(db)?;
        let mut s = Store { conn, path: p };
        let mut tries = 0;
        loop {
            match s.migrate() {
                Err(StoreError::Db { err, .. }) if is_busy(&err) && tries < 500 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.map(|_| s),
            }
        }
    }

    /// The connection, for the engine's other tables.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A database error, named after this store.
    pub(crate) fn err(&self, err: rusqlite::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            err,
        }
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |err| StoreError::Db {
            path: self.path.clone(),
            err,
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let db = |err| StoreError::Db {
            path: path.clone(),
            err,
        };
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(m).map_err(db)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Record a new container; fails if its name is taken.
    pub fn insert(&self, c: &Container) -> Result<()> {
        let config = serde_json::to_string(&c.config).expect("config serializes");
        let host = serde_json::to_string(&c.host).expect("host config serializes");
        let r = self.conn.execute(
            "INSERT INTO containers (id, name, created, image_id, config, host_config, status,
                 started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                c.id,
                c.name,
                c.created,
                c.image_id,
                config,
                host,
                c.state.status.as_str(),
                c.state.started_at,
                c.state.finished_at
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                let id = self
                    .conn
                    .query_row(
                        "SELECT id FROM containers WHERE name = ?1",
                        params![c.name],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                    .map_err(self.db())?
                    .unwrap_or_default();
                Err(StoreError::NameInUse {
                    name: c.name.clone(),
                    id,
                })
            }
            Err(e) => Err(self.db()(e)),
        }
    }

    /// The container with this full ID, name, or unique ID prefix (Docker's
    /// lookup order).
    pub fn find(&self, what: &str) -> Result<Container> {
        let what = what.strip_prefix('/').unwrap_or(what);
        let q = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1 OR name = ?1");
        if let Some(c) = self
            .conn
            .query_row(&q, params![what], row_to_container)
            .optional()
            .map_err(self.db())?
        {
            return c;
        }
        if !what.is_empty() && what.len() < 64 && what.bytes().all(|b| b.is_ascii_hexdigit()) {
            let q = format!("SELECT {COLUMNS} FROM containers WHERE id LIKE ?1 || '%' LIMIT 2");
            let mut st = self.conn.prepare(&q).map_err(self.db())?;
            let rows: Vec<Result<Container>> = st
                .query_map(params![what], row_to_container)
                .map_err(self.db())?
                .collect::<std::result::Result<_, _>>()
                .map_err(self.db())?;
            match rows.len() {
                1 => return rows.into_iter().next().unwrap(),
                0 => {}
                _ => return Err(StoreError::Ambiguous(what.into())),
            }
        }
        Err(StoreError::NoSuchContainer(what.into()))
    }

    /// The container with this exact ID, if it exists.
    pub fn get(&self, id: &str) -> Result<Option<Container>> {
        let q = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1");
        self.conn
            .query_row(&q, params![id], row_to_container)
            .optional()
            .map_err(self.db())?
            .transpose()
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let q = format!("SELECT {COLUMNS} FROM containers ORDER BY created DESC, rowid DESC");
        let mut st = self.conn.prepare(&q).map_err(self.db())?;
        let rows: Vec<Result<Container>> = st
            .query_map([], row_to_container)
            .map_err(self.db())?
            .collect::<std::result::Result<_, _>>()
            .map_err(self.db())?;
        rows.into_iter().collect()
    }

    /// Write a container's state.
    pub fn set_state(&self, id: &str, s: &State) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET status = ?2, pid = ?3, pid_start = ?4, supervisor_pid = ?5,
                     supervisor_start = ?6, exit_code = ?7, started_at = ?8, finished_at = ?9,
                     oom_killed = ?10, restart_count = ?11, error = ?12, stopped_by_user = ?13,
                     health = ?14
                 WHERE id = ?1",
                params![
                    id,
                    s.status.as_str(),
                    s.pid,
                    s.pid_start as i64,
                    s.supervisor_pid,
                    s.supervisor_start as i64,
                    s.exit_code,
                    s.started_at,
                    s.finished_at,
                    s.oom_killed,
                    s.restart_count,
                    s.error,
                    s.stopped_by_user,
                    s.health
                        .as_ref()
                        .map(|h| serde_json::to_string(h).expect("health serializes"))
                ],
            )
            .map_err(self.db())?;
        if n == 0 {
            return Err(StoreError::NoSuchContainer(id.into()));
        }
        Ok(())
    }

    /// Change a container's state with `f`, atomically with respect to other
    /// processes doing the same; returns the new state.
    pub fn update_state(&self, id: &str, f: impl FnOnce(&mut State)) -> Result<State> {
        let tx = self.conn.unchecked_transaction().map_err(self.db())?;
        // Take the write lock first, so two updaters never both read.
        tx.execute("UPDATE containers SET id = id WHERE id = ?1", params![id])
            .map_err(self.db())?;
        let mut c = self
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchContainer(id.into()))?;
        f(&mut c.state);
        self.set_state(id, &c.state)?;
        tx.commit().map_err(self.db())?;
        Ok(c.state)
    }

    pub fn rename(&self, id: &str, name: &str) -> Result<()> {
        match self.conn.execute(
            "UPDATE containers SET name = ?2 WHERE id = ?1",
            params![id, name],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                let other = self.find(name).map(|c| c.id).unwrap_or_default();
                Err(StoreError::NameInUse {
                    name: name.into(),
                    id: other,
                })
            }
            Err(e) => Err(self.db()(e)),
        }
    }

    pub fn remove(&self, id: &str) -> Result<bool> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.db())?;
        let r = (|| {
            self.conn
                .execute("DELETE FROM endpoints WHERE container = ?1", params![id])?;
            self.conn
                .execute("DELETE FROM published WHERE container = ?1", params![id])?;
            self.conn
                .execute("DELETE FROM containers WHERE id = ?1", params![id])
        })();
        match r {
            Ok(n) => {
                self.conn.execute_batch("COMMIT").map_err(self.db())?;
                Ok(n > 0)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(self.db()(e))
            }
        }
    }

    /// Append an event.
    pub fn add_event(
        &self,
        kind: &str,
        action: &str,
        actor: &str,
        attributes: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO events (time_nano, type, action, actor, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now_nanos(), kind, action, actor, attributes.to_string()],
            )
            .map(drop)
            .map_err(self.db())
    }

    /// Events after sequence number `after`, oldest first.
    pub fn events_after(&self, after: i64) -> Result<Vec<Event>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, time_nano, type, action, actor, attributes FROM events
                 WHERE seq > ?1 ORDER BY seq",
            )
            .map_err(self.db())?;
        let rows = st
            .query_map(params![after], |r| {
                Ok(Event {
                    seq: r.get(0)?,
                    time_nano: r.get(1)?,
                    kind: r.get(2)?,
                    action: r.get(3)?,
                    actor: r.get(4)?,
                    attributes: serde_json::from_str(&r.get::<_, String>(5)?)
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.db())
    }
}

fn row_to_container(r: &Row<'_>) -> rusqlite::Result<Result<Container>> {
    let id: String = r.get(0)?;
    let config: String = r.get(4)?;
    let host: String = r.get(5)?;
    let status: String = r.get(6)?;
    let corrupt = |what: &'static str, err: String| StoreError::Corrupt {
        id: id.clone(),
        what,
        err,
    };
    let config: Config = match serde_json::from_str(&config) {
        Ok(c) => c,
        Err(e) => return Ok(Err(corrupt("config", e.to_string()))),
    };
    let host: HostConfig = match serde_json::from_str(&host) {
        Ok(c) => c,
        Err(e) => return Ok(Err(corrupt("host config", e.to_string()))),
    };
    let Some(status) = Status::parse(&status) else {
        return Ok(Err(corrupt("status", status)));
    };
    Ok(Ok(Container {
        id: id.clone(),
        name: r.get(1)?,
        created: r.get(2)?,
        image_id: r.get(3)?,
        config,
        host,
        state: State {
            status,
            pid: r.get(7)?,
            pid_start: r.get::<_, i64>(8)? as u64,
            supervisor_pid: r.get(9)?,
            supervisor_start: r.get::<_, i64>(10)? as u64,
            exit_code: r.get(11)?,
            started_at: r.get(12)?,
            finished_at: r.get(13)?,
            oom_killed: r.get(14)?,
            restart_count: r.get(15)?,
            error: r.get(16)?,
            stopped_by_user: r.get(17)?,
            health: r
                .get::<_, Option<String>>(18)?
                .and_then(|h| serde_json::from_str(&h).ok()),
        },
    }))
}

/// Nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, name: &str) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            created: "2026-11-22T00:00:00.000000001Z".into(),
            image_id: "sha256:00".into(),
            config: Config::default(),
            host: HostConfig::default(),
            state: State::default(),
        }
    }

    #[test]
    fn a_schema_5_store_keeps_its_networks_and_endpoints() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.db");
        {
            let c = Connection::open(&p).unwrap();
            for (i, m) in MIGRATIONS[..5].iter().enumerate() {
                c.execute_batch(m).unwrap();
                c.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .unwrap();
            }
            c.execute_batch(
                "INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, labels, created, ipam_gateway)
                 VALUES ('n1', 'given', 'bridge', '10.9.0.0/24', '10.9.0.1', 'b1', 0, '{}', 't', 0),
                        ('n2', 'picked', 'bridge', '172.18.0.0/16', '172.18.0.1', 'b2', 0, '{}', 't', 1);
                 INSERT INTO endpoints (network, container, aliases, ip, ifname)
                 VALUES ('n1', 'c1', '[]', '10.9.0.2', 'eth0');",
            )
            .unwrap();
        }
        let s = Store::open(&p).unwrap();
        let nets: Vec<(String, i64)> = s
            .conn()
            .prepare("SELECT name, user_subnet FROM networks ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(nets, [("given".into(), 1), ("picked".into(), 0)]);
        let ep: (String, Option<String>) = s
            .conn()
            .query_row("SELECT ip, requested_ip FROM endpoints", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(ep, ("10.9.0.2".into(), None));
    }

    #[test]
    fn a_new_store_opened_by_many_at_once() {
        // The first opens of a store race to switch it to WAL and migrate it.
        for round in 0..5 {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join(format!("c{round}.db"));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let p = p.clone();
                    std::thread::spawn(move || Store::open(&p).map(|s| s.list().map(|l| l.len())))
                })
                .collect();
            for h in handles {
                let r = h.join().unwrap();
                assert!(matches!(r, Ok(Ok(0))), "{:?}", r.err());
            }
        }
    }

    #[test]
    fn names_are_unique_and_lookups_follow_docker() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("c.db")).unwrap();
        let a = format!("{}{}", "ab12", "0".repeat(60));
        let b = format!("{}{}", "ab34", "0".repeat(60));
        s.insert(&container(&a, "web")).unwrap();
        s.insert(&container(&b, "db")).unwrap();
        let e = s.insert(&container(&"f".repeat(64), "web")).unwrap_err();
        assert!(e.to_string().contains("\"/web\" is already in use"), "{e}");
        assert_eq!(s.find("web").unwrap().id, a);
        assert_eq!(s.find("/db").unwrap().id, b);
        assert_eq!(s.find("ab1").unwrap().id, a);
        assert!(matches!(s.find("ab"), Err(StoreError::Ambiguous(_))));
        assert!(matches!(s.find("zz"), Err(StoreError::NoSuchContainer(_))));
        s.rename(&a, "front").unwrap();
        assert!(s.rename(&b, "front").is_err());
        assert_eq!(s.find("front").unwrap().id, a);
        let st = s
            .update_state(&a, |st| {
                st.status = Status::Exited;
                st.exit_code = 3;
            })
            .unwrap();
        assert_eq!(st.exit_code, 3);
        assert_eq!(s.find(&a).unwrap().state.status, Status::Exited);
        assert_eq!(s.list().unwrap().len(), 2);
        assert!(s.remove(&a).unwrap());
        assert_eq!(s.list().unwrap().len(), 1);
        s.add_event(
            "container",
            "die",
            &b,
            &serde_json::json!({"exitCode": "0"}),
        )
        .unwrap();
        let ev = s.events_after(0).unwrap();
        assert_eq!(
            (ev[0].action.as_str(), ev[0].actor.as_str()),
            ("die", b.as_str())
        );
    }
}
