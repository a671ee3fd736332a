//! The events journal: what happened to containers, volumes, networks and
//! images (`create`, `start`, `die`, `health_status: healthy`, ...), each with
//! a sequence number and a time. It is bounded: the most recent
//! [`KEEP`] events are kept (dockerd keeps 256 in memory), older ones are
//! dropped as new ones come.

use super::{Result, Store};
use rusqlite::params;

/// How many events the journal keeps.
pub const KEEP: i64 = 10_000;
/// Old events are dropped once per this many new ones.
const TRIM_EVERY: i64 = 100;

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub time_nano: i64,
    /// `container`, `volume`, `network` or `image`.
    pub kind: String,
    pub action: String,
    /// The object's ID (a volume's name).
    pub actor: String,
    pub attributes: serde_json::Value,
}

/// Which events to read: after a sequence number, and within times
/// (nanoseconds since the epoch, both ends included).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventQuery {
    pub after_seq: i64,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Store {
    /// Append an event; its sequence number.
    pub fn add_event(
        &self,
        kind: &str,
        action: &str,
        actor: &str,
        attributes: &serde_json::Value,
    ) -> Result<i64> {
        let seq =
            add_event_on(&*self.conn()?, kind, action, actor, attributes).map_err(self.db())?;
        self.changed();
        Ok(seq)
    }

    /// Events matching `q`, oldest first.
    pub fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT seq, time_nano, type, action, actor, attributes FROM events
                 WHERE seq > ?1 AND time_nano >= ?2 AND time_nano <= ?3 ORDER BY seq",
            )
            .map_err(self.db())?;
        let rows = st
            .query_map(
                params![
                    q.after_seq,
                    q.since.unwrap_or(i64::MIN),
                    q.until.unwrap_or(i64::MAX)
                ],
                row_to_event,
            )
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.db())
    }

    /// Events after sequence number `after`, oldest first.
    pub fn events_after(&self, after: i64) -> Result<Vec<Event>> {
        self.events(&EventQuery {
            after_seq: after,
            ..Default::default()
        })
    }

    /// The latest event `action` of `actor`, if the journal still has one.
    pub fn last_event(&self, actor: &str, action: &str) -> Result<Option<Event>> {
        use rusqlite::OptionalExtension;
        self.conn()?
            .query_row(
                "SELECT seq, time_nano, type, action, actor, attributes FROM events
                 WHERE actor = ?1 AND action = ?2 ORDER BY seq DESC LIMIT 1",
                params![actor, action],
                row_to_event,
            )
            .optional()
            .map_err(self.db())
    }

    /// The sequence number of the latest event (0 when there is none).
    pub fn last_event_seq(&self) -> Result<i64> {
        self.conn()?
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(self.db())
    }
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        time_nano: r.get(1)?,
        kind: r.get(2)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        attributes: serde_json::from_str(&r.get::<_, String>(5)?)
            .unwrap_or(serde_json::Value::Null),
    })
}

/// Append an event on `conn` (inside a caller's transaction); its sequence
/// number.
pub(super) fn add_event_on(
    conn: &rusqlite::Connection,
    kind: &str,
    action: &str,
    actor: &str,
    attributes: &serde_json::Value,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO events (time_nano, type, action, actor, attributes)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            crate::time::now_nanos(),
            kind,
            action,
            actor,
            attributes.to_string()
        ],
    )?;
    let seq = conn.last_insert_rowid();
    if seq % TRIM_EVERY == 0 {
        conn.execute("DELETE FROM events WHERE seq <= ?1", params![seq - KEEP])?;
    }
    Ok(seq)
}
