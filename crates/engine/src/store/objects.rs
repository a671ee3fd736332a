//! Documents a layer above the engine keeps in the store (the Kubernetes
//! objects of `skiff kube`), by kind, namespace and name. The engine knows
//! nothing of what they mean: it keeps each one's body, its uid and the
//! store-wide revision of its last write (Kubernetes' resourceVersion), and
//! applies a batch of writes in one transaction, each under a precondition,
//! so a batch either lands whole or not at all.

use super::{Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// Where a document lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: String,
    /// Empty for a document outside any namespace.
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub key: ObjectKey,
    pub uid: String,
    /// The store's revision when it was last written.
    pub revision: i64,
    pub body: serde_json::Value,
}

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Anything (a put creates or replaces; a delete of nothing is a no-op).
    Any,
    /// No document at the key (a create).
    Absent,
    /// The document as last written at this revision (an update of what
    /// was read).
    Revision(i64),
}

/// One write of a batch.
#[derive(Debug, Clone)]
pub enum ObjectWrite {
    Put {
        key: ObjectKey,
        uid: String,
        body: serde_json::Value,
        expect: Expect,
    },
    Delete {
        key: ObjectKey,
        expect: Expect,
    },
}

impl Store {
    /// Apply `writes` in one transaction, in order; each write's new
    /// revision (a delete's too). The first unmet precondition fails the
    /// whole batch and nothing is written.
    pub fn objects_write(&self, writes: &[ObjectWrite]) -> Result<Vec<i64>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.write_and_say(|tx| {
            let mut revs = Vec::with_capacity(writes.len());
            for w in writes {
                let key = match w {
                    ObjectWrite::Put { key, .. } | ObjectWrite::Delete { key, .. } => key,
                };
                let expect = match w {
                    ObjectWrite::Put { expect, .. } | ObjectWrite::Delete { expect, .. } => *expect,
                };
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT revision FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                        params![key.kind, key.namespace, key.name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(self.db())?;
                match (expect, current) {
                    (Expect::Absent, Some(_)) => return Err(StoreError::ObjectExists(key.clone())),
                    (Expect::Revision(_), None) => {
                        return Err(StoreError::NoSuchObject(key.clone()))
                    }
                    (Expect::Revision(want), Some(have)) if want != have => {
                        return Err(StoreError::ObjectChanged(key.clone()))
                    }
                    _ => {}
                }
                let rev: i64 = tx
                    .query_row(
                        "UPDATE objects_revision SET revision = revision + 1 WHERE id = 0
                         RETURNING revision",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(self.db())?;
                match w {
                    ObjectWrite::Put { uid, body, .. } => {
                        tx.execute(
                            "INSERT INTO objects (kind, namespace, name, uid, revision, body)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (kind, namespace, name) DO UPDATE
                             SET uid = excluded.uid, revision = excluded.revision,
                                 body = excluded.body",
                            params![key.kind, key.namespace, key.name, uid, rev, body.to_string()],
                        )
                        .map_err(self.db())?;
                    }
                    ObjectWrite::Delete { .. } => {
                        tx.execute(
                            "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                            params![key.kind, key.namespace, key.name],
                        )
                        .map_err(self.db())?;
                    }
                }
                revs.push(rev);
            }
            Ok(revs)
        })
    }

    /// The document at `key`.
    pub fn object_get(&self, key: &ObjectKey) -> Result<Option<StoredObject>> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT kind, namespace, name, uid, revision, body FROM objects
                 WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
            )
            .map_err(self.db())?;
        let row = st
            .query_row(params![key.kind, key.namespace, key.name], row_to_object)
            .optional()
            .map_err(self.db())?;
        row.map(|r| r.map_err(corrupt)).transpose()
    }

    /// The documents of `kind` (in `namespace` when given), by namespace
    /// and name.
    pub fn objects_list(&self, kind: &str, namespace: Option<&str>) -> Result<Vec<StoredObject>> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT kind, namespace, name, uid, revision, body FROM objects
                 WHERE kind = ?1 AND (?2 IS NULL OR namespace = ?2) ORDER BY namespace, name",
            )
            .map_err(self.db())?;
        let rows = st
            .query_map(params![kind, namespace], row_to_object)
            .map_err(self.db())?;
        let mut out = Vec::new();
        for r in rows {
            let r = r.map_err(self.db())?;
            out.push(r.map_err(corrupt)?);
        }
        Ok(out)
    }

    /// The store's object revision: it grows with every object written or
    /// deleted, so a reader that saw it unchanged has seen every object.
    pub fn objects_revision(&self) -> Result<i64> {
        self.conn()?
            .query_row(
                "SELECT revision FROM objects_revision WHERE id = 0",
                [],
                |r| r.get(0),
            )
            .map_err(self.db())
    }
}

fn corrupt((key, e): (ObjectKey, serde_json::Error)) -> StoreError {
    StoreError::Corrupt {
        id: key.to_string(),
        what: "object",
        err: e.to_string(),
    }
}

type Row = std::result::Result<StoredObject, (ObjectKey, serde_json::Error)>;

fn row_to_object(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let key = ObjectKey {
        kind: r.get(0)?,
        namespace: r.get(1)?,
        name: r.get(2)?,
    };
    let body: String = r.get(5)?;
    Ok(match serde_json::from_str(&body) {
        Ok(body) => Ok(StoredObject {
            key,
            uid: r.get(3)?,
            revision: r.get(4)?,
            body,
        }),
        Err(e) => Err((key, e)),
    })
}
