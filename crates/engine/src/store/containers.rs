//! Containers as rows: their configuration (Docker's `Config` and
//! `HostConfig` as JSON) and their state.

use super::{Result, Store, StoreError};
use crate::model::{Config, Container, HostConfig, State, Status};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, name, created, image_id, config, host_config, status, pid, pid_start,
    supervisor_pid, supervisor_start, exit_code, started_at, finished_at, oom_killed,
    restart_count, error, stopped_by_user, health";

impl Store {
    /// Record a new container; fails if its name is taken.
    pub fn insert(&self, c: &Container) -> Result<()> {
        self.insert_with_events(c, &[])
    }

    /// [`insert`](Self::insert), and its `events` (action, attributes) in
    /// the same transaction.
    pub fn insert_with_events(
        &self,
        c: &Container,
        events: &[(&str, serde_json::Value)],
    ) -> Result<()> {
        let config = serde_json::to_string(&c.config).expect("config serializes");
        let host = serde_json::to_string(&c.host).expect("host config serializes");
        self.write_and_say(|tx| {
            let r = tx.execute(
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
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    let id = tx
                        .query_row(
                            "SELECT id FROM containers WHERE name = ?1",
                            params![c.name],
                            |r| r.get::<_, String>(0),
                        )
                        .optional()
                        .map_err(self.db())?
                        .unwrap_or_default();
                    return Err(StoreError::NameInUse {
                        name: c.name.clone(),
                        id,
                    });
                }
                Err(e) => return Err(self.db()(e)),
            }
            for (action, attrs) in events {
                super::events::add_event_on(tx, "container", action, &c.id, attrs)
                    .map_err(self.db())?;
            }
            Ok(())
        })
    }

    /// The container with this full ID, name, or unique ID prefix (Docker's
    /// lookup order).
    pub fn find(&self, what: &str) -> Result<Container> {
        let what = what.strip_prefix('/').unwrap_or(what);
        let conn = self.conn()?;
        let q = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1 OR name = ?1");
        if let Some(c) = conn
            .query_row(&q, params![what], row_to_container)
            .optional()
            .map_err(self.db())?
        {
            return c;
        }
        if !what.is_empty() && what.len() < 64 && what.bytes().all(|b| b.is_ascii_hexdigit()) {
            let q = format!("SELECT {COLUMNS} FROM containers WHERE id LIKE ?1 || '%' LIMIT 2");
            let mut st = conn.prepare(&q).map_err(self.db())?;
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
        get_on(&*self.conn()?, id).map_err(self.db())?.transpose()
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let q = format!("SELECT {COLUMNS} FROM containers ORDER BY created DESC, rowid DESC");
        let conn = self.conn()?;
        let mut st = conn.prepare(&q).map_err(self.db())?;
        let rows: Vec<Result<Container>> = st
            .query_map([], row_to_container)
            .map_err(self.db())?
            .collect::<std::result::Result<_, _>>()
            .map_err(self.db())?;
        rows.into_iter().collect()
    }

    /// Write a container's state.
    pub fn set_state(&self, id: &str, s: &State) -> Result<()> {
        set_state_on(&*self.conn()?, id, s).map_err(self.db())??;
        self.changed();
        Ok(())
    }

    /// Change a container's state with `f`, atomically with respect to other
    /// threads and processes doing the same; returns the new state.
    pub fn update_state(&self, id: &str, f: impl FnOnce(&mut State)) -> Result<State> {
        self.write_and_say(|tx| {
            let mut c = get_on(tx, id)
                .map_err(self.db())?
                .transpose()?
                .ok_or_else(|| StoreError::NoSuchContainer(id.into()))?;
            f(&mut c.state);
            set_state_on(tx, id, &c.state).map_err(self.db())??;
            Ok(c.state)
        })
    }

    /// [`update_state`](Self::update_state), and the container events
    /// `events` (action, attributes) recorded in the same transaction: who
    /// sees the new state sees them too.
    pub fn update_state_with_events(
        &self,
        id: &str,
        f: impl FnOnce(&mut State),
        events: &[(&str, serde_json::Value)],
    ) -> Result<State> {
        self.write_and_say(|tx| {
            for (action, attrs) in events {
                super::events::add_event_on(tx, "container", action, id, attrs)
                    .map_err(self.db())?;
            }
            let mut c = get_on(tx, id)
                .map_err(self.db())?
                .transpose()?
                .ok_or_else(|| StoreError::NoSuchContainer(id.into()))?;
            f(&mut c.state);
            set_state_on(tx, id, &c.state).map_err(self.db())??;
            Ok(c.state)
        })
    }

    /// Replace a container's host configuration (`update`).
    pub fn set_host(&self, id: &str, host: &HostConfig) -> Result<()> {
        let json = serde_json::to_string(host).expect("host config serializes");
        self.conn()?
            .execute(
                "UPDATE containers SET host_config = ?2 WHERE id = ?1",
                params![id, json],
            )
            .map_err(self.db())?;
        self.changed();
        Ok(())
    }

    pub fn rename(&self, id: &str, name: &str) -> Result<()> {
        let r = self.conn()?.execute(
            "UPDATE containers SET name = ?2 WHERE id = ?1",
            params![id, name],
        );
        match r {
            Ok(_) => {
                self.changed();
                Ok(())
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                let other = self.find(name).map(|c| c.id).unwrap_or_default();
                Err(StoreError::NameInUse {
                    name: name.into(),
                    id: other,
                })
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Remove a container's record with its endpoints and published ports;
    /// whether it was there.
    pub fn remove(&self, id: &str) -> Result<bool> {
        self.remove_with_events(id, &[])
    }

    /// [`remove`](Self::remove), and container `id`'s `events` (action,
    /// attributes) in the same transaction.
    pub fn remove_with_events(
        &self,
        id: &str,
        events: &[(&str, serde_json::Value)],
    ) -> Result<bool> {
        self.write_and_say(|tx| {
            for (action, attrs) in events {
                super::events::add_event_on(tx, "container", action, id, attrs)
                    .map_err(self.db())?;
            }
            tx.execute("DELETE FROM endpoints WHERE container = ?1", params![id])
                .map_err(self.db())?;
            tx.execute("DELETE FROM published WHERE container = ?1", params![id])
                .map_err(self.db())?;
            let n = tx
                .execute("DELETE FROM containers WHERE id = ?1", params![id])
                .map_err(self.db())?;
            Ok(n > 0)
        })
    }
}

/// The container with exact ID `id`, on `conn` (inside a transaction).
fn get_on(conn: &Connection, id: &str) -> rusqlite::Result<Option<Result<Container>>> {
    let q = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1");
    conn.query_row(&q, params![id], row_to_container).optional()
}

/// Write container `id`'s state on `conn`; the inner error: no such container.
fn set_state_on(conn: &Connection, id: &str, s: &State) -> rusqlite::Result<Result<()>> {
    let n = conn.execute(
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
    )?;
    Ok(if n == 0 {
        Err(StoreError::NoSuchContainer(id.into()))
    } else {
        Ok(())
    })
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
