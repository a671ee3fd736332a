//! The build cache's records, in the image catalog: for each build step's
//! key, the image state after it (a JSON document the builder owns) and the
//! blobs and snapshot chains that state holds, which image removal and prune
//! leave in place until the entry goes (`builder prune`).

use crate::catalog::{Catalog, CatalogError};
use crate::digest::Digest;
use rusqlite::{params, OptionalExtension};

type Result<T> = std::result::Result<T, CatalogError>;

/// One cached step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub key: String,
    /// The builder's state after the step (JSON).
    pub state: String,
    pub blobs: Vec<Digest>,
    pub chains: Vec<Digest>,
    /// Bytes of the layer the step made (0 for a change of configuration).
    pub size: u64,
    /// RFC 3339.
    pub created: String,
    pub last_used: String,
}

fn digests(s: &str) -> Vec<Digest> {
    serde_json::from_str::<Vec<String>>(s)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| Digest::parse(d).ok())
        .collect()
}

fn to_json(d: &[Digest]) -> String {
    serde_json::to_string(&d.iter().map(|d| d.to_string()).collect::<Vec<_>>())
        .expect("strings serialize")
}

fn row_to_entry(r: &rusqlite::Row) -> rusqlite::Result<CacheEntry> {
    Ok(CacheEntry {
        key: r.get(0)?,
        state: r.get(1)?,
        blobs: digests(&r.get::<_, String>(2)?),
        chains: digests(&r.get::<_, String>(3)?),
        size: r.get::<_, i64>(4)? as u64,
        created: r.get(5)?,
        last_used: r.get(6)?,
    })
}

const COLUMNS: &str = "key, state, blobs, chains, size, created, last_used";

impl Catalog {
    /// The entry for `key`.
    pub fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM build_cache WHERE key = ?1"),
                params![key],
                row_to_entry,
            )
            .optional()
            .map_err(self.db())
    }

    /// Mark the entries `keys` used at `now` (one transaction).
    pub fn cache_touch(&mut self, keys: &[String], now: &str) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let db = |err| CatalogError::Db {
            path: path.clone(),
            err,
        };
        let tx = self.conn.transaction().map_err(db)?;
        for k in keys {
            tx.execute(
                "UPDATE build_cache SET last_used = ?2 WHERE key = ?1",
                params![k, now],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Record (or replace) an entry.
    pub fn cache_put(&self, e: &CacheEntry) -> Result<()> {
        self.conn
            .execute(
                &format!(
                    "INSERT INTO build_cache ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(key) DO UPDATE SET state = ?2, blobs = ?3, chains = ?4,
                     size = ?5, last_used = ?7"
                ),
                params![
                    e.key,
                    e.state,
                    to_json(&e.blobs),
                    to_json(&e.chains),
                    e.size as i64,
                    e.created,
                    e.last_used
                ],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Every entry, least recently used first.
    pub fn cache_entries(&self) -> Result<Vec<CacheEntry>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM build_cache ORDER BY last_used, key"
            ))
            .map_err(self.db())?;
        let rows = st
            .query_map([], row_to_entry)
            .map_err(self.db())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.db())?;
        Ok(rows)
    }

    /// Forget an entry (what it held is collected by the next prune).
    pub fn cache_remove(&self, key: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM build_cache WHERE key = ?1", params![key])
            .map_err(self.db())?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_found_and_removed() {
        let d = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(&d.path().join("images.db")).unwrap();
        let blob = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let e = CacheEntry {
            key: "k1".into(),
            state: "{}".into(),
            blobs: vec![blob.clone()],
            chains: vec![blob.clone()],
            size: 10,
            created: "2026-01-01T00:00:00Z".into(),
            last_used: "2026-01-01T00:00:00Z".into(),
        };
        c.cache_put(&e).unwrap();
        assert!(c.cache_get("k2").unwrap().is_none());
        let got = c.cache_get("k1").unwrap().unwrap();
        c.cache_touch(&["k1".into()], "2026-02-01T00:00:00Z")
            .unwrap();
        assert_eq!(got.blobs, vec![blob]);
        assert_eq!(
            c.cache_entries().unwrap()[0].last_used,
            "2026-02-01T00:00:00Z"
        );
        assert!(c.cache_remove("k1").unwrap());
        assert!(c.cache_entries().unwrap().is_empty());
    }
}
