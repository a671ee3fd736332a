//! The image catalog: which images exist and which names point at them, in an
//! SQLite database (WAL, synchronous=NORMAL: whatever a command reported done
//! survives SIGKILL of any process; several processes may use it at once).
//!
//! An image is identified by its config digest (Docker's image ID); names
//! (`docker.io/library/busybox:latest`) point at image IDs.

use crate::digest::Digest;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("image catalog {path}: {err}")]
    Db { path: String, err: rusqlite::Error },
    #[error(
        "image catalog {path} has schema version {found}, newer than this skiff ({supported})"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("image catalog: stored digest {0:?} is invalid")]
    BadDigest(String),
}

type Result<T> = std::result::Result<T, CatalogError>;

/// One image as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The config digest (the image ID).
    pub id: Digest,
    pub manifest: Digest,
    pub manifest_media_type: String,
    /// Sum of the layers' compressed sizes plus config (as `docker images` shows
    /// the size of the unpacked layers, callers may compute that instead).
    pub size: u64,
    /// RFC 3339 creation time from the config.
    pub created: String,
}

const MIGRATIONS: [&str; 3] = [
    "
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        manifest TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX names_by_image ON names(image_id);
",
    "
    -- Where a blob is known to exist (pulled from or pushed to), so that a push
    -- to another repository of the same registry can mount it from there.
    CREATE TABLE blob_sources (
        digest TEXT NOT NULL,
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        PRIMARY KEY (digest, registry, repository)
    );
",
    "
    -- The build cache: the state of an image after a build step, by the
    -- step's key; the blobs and snapshot chains it holds stay in use.
    CREATE TABLE build_cache (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        blobs TEXT NOT NULL,
        chains TEXT NOT NULL,
        size INTEGER NOT NULL,
        created TEXT NOT NULL,
        last_used TEXT NOT NULL
    );
",
];

pub use crate::sqlite::{is_busy, retry_busy};

pub struct Catalog {
    pub(crate) conn: Connection,
    pub(crate) path: String,
}

impl Catalog {
    /// Open (creating and migrating) the catalog database at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        let p = path.display().to_string();
        let db = |err| CatalogError::Db {
            path: p.clone(),
            err,
        };
        let mut conn = crate::sqlite::open(
            path,
            crate::sqlite::Busy::Catalog,
            "PRAGMA foreign_keys=ON;",
        )
        .map_err(db)?;
        crate::sqlite::migrate(&mut conn, &MIGRATIONS).map_err(|e| match e {
            crate::sqlite::MigrateError::Db(err) => db(err),
            crate::sqlite::MigrateError::TooNew { found, supported } => CatalogError::TooNew {
                path: p.clone(),
                found,
                supported,
            },
        })?;
        Ok(Catalog { conn, path: p })
    }

    pub(crate) fn db(&self) -> impl Fn(rusqlite::Error) -> CatalogError + '_ {
        move |err| CatalogError::Db {
            path: self.path.clone(),
            err,
        }
    }

    /// Record an image and point `names` at it (moving names from older images).
    pub fn add(&mut self, rec: &ImageRecord, names: &[String]) -> Result<()> {
        // The same image under the same names again (a rebuild from the
        // cache, a second load): nothing to write.
        if self.get(&rec.id)?.as_ref() == Some(rec) {
            let mut same = true;
            for n in names {
                same &= self.resolve_name(n)?.as_ref() == Some(&rec.id);
            }
            if same {
                return Ok(());
            }
        }
        let path = self.path.clone();
        let db = |err| CatalogError::Db {
            path: path.clone(),
            err,
        };
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO images (id, manifest, manifest_media_type, size, created)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET manifest = ?2, manifest_media_type = ?3, size = ?4",
            params![
                rec.id.to_string(),
                rec.manifest.to_string(),
                rec.manifest_media_type,
                rec.size as i64,
                rec.created
            ],
        )
        .map_err(db)?;
        for n in names {
            tx.execute(
                "INSERT INTO names (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = ?2",
                params![n, rec.id.to_string()],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Record that `digests` exist in `repository` on `registry`.
    pub fn add_blob_sources(
        &self,
        registry: &str,
        repository: &str,
        digests: &[Digest],
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(self.db())?;
        for d in digests {
            tx.execute(
                "INSERT OR REPLACE INTO blob_sources (digest, registry, repository)
                 VALUES (?1, ?2, ?3)",
                params![d.to_string(), registry, repository],
            )
            .map_err(self.db())?;
        }
        tx.commit().map_err(self.db())
    }

    /// Repositories on `registry` known to hold blob `digest`, most recently
    /// recorded first.
    pub fn blob_sources(&self, digest: &Digest, registry: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT repository FROM blob_sources WHERE digest = ?1 AND registry = ?2
                 ORDER BY rowid DESC",
            )
            .map_err(self.db())?;
        let rows = st
            .query_map(params![digest.to_string(), registry], |r| r.get(0))
            .map_err(self.db())?;
        rows.collect::<std::result::Result<Vec<String>, _>>()
            .map_err(self.db())
    }

    /// Forget where blob `digest` came from (it left the store).
    pub fn forget_blob(&self, digest: &Digest) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM blob_sources WHERE digest = ?1",
                params![digest.to_string()],
            )
            .map(drop)
            .map_err(self.db())
    }

    /// Point `name` at an existing image.
    pub fn tag(&mut self, name: &str, id: &Digest) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO names (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = ?2",
                params![name, id.to_string()],
            )
            .map(drop)
            .map_err(self.db())
    }

    /// Remove a name; returns the image it pointed at.
    pub fn untag(&mut self, name: &str) -> Result<Option<Digest>> {
        let id = self.resolve_name(name)?;
        self.conn
            .execute("DELETE FROM names WHERE name = ?1", params![name])
            .map_err(self.db())?;
        Ok(id)
    }

    /// The image a full name points at.
    pub fn resolve_name(&self, name: &str) -> Result<Option<Digest>> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT image_id FROM names WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        id.map(|s| Digest::parse(&s).map_err(|_| CatalogError::BadDigest(s)))
            .transpose()
    }

    /// Images whose ID starts with `prefix` (hex, with or without "sha256:").
    pub fn find_by_id_prefix(&self, prefix: &str) -> Result<Vec<Digest>> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare("SELECT id FROM images WHERE id LIKE ?1")
            .map_err(self.db())?;
        let rows = st
            .query_map(
                params![format!("sha256:{}%", hex.to_ascii_lowercase())],
                |r| r.get::<_, String>(0),
            )
            .map_err(self.db())?;
        let mut out = Vec::new();
        for r in rows {
            let s = r.map_err(self.db())?;
            out.push(Digest::parse(&s).map_err(|_| CatalogError::BadDigest(s))?);
        }
        Ok(out)
    }

    pub fn get(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        self.conn
            .query_row(
                "SELECT id, manifest, manifest_media_type, size, created FROM images WHERE id = ?1",
                params![id.to_string()],
                row_to_record,
            )
            .optional()
            .map_err(self.db())?
            .transpose()
    }

    /// Every image with its names, newest first.
    pub fn list(&self) -> Result<Vec<(ImageRecord, Vec<String>)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, manifest, manifest_media_type, size, created FROM images
                 ORDER BY created DESC, id",
            )
            .map_err(self.db())?;
        let recs = st
            .query_map([], row_to_record)
            .map_err(self.db())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.db())?;
        let mut out = Vec::new();
        for r in recs {
            let r = r?;
            let names = self.names_of(&r.id)?;
            out.push((r, names));
        }
        Ok(out)
    }

    pub fn names_of(&self, id: &Digest) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM names WHERE image_id = ?1 ORDER BY name")
            .map_err(self.db())?;
        let names = st
            .query_map(params![id.to_string()], |r| r.get::<_, String>(0))
            .map_err(self.db())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.db())?;
        Ok(names)
    }

    /// Forget an image and every name pointing at it.
    pub fn remove(&mut self, id: &Digest) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM images WHERE id = ?1", params![id.to_string()])
            .map_err(self.db())?;
        Ok(n > 0)
    }
}

fn row_to_record(r: &rusqlite::Row) -> rusqlite::Result<Result<ImageRecord>> {
    let id: String = r.get(0)?;
    let manifest: String = r.get(1)?;
    let parse = |s: String| Digest::parse(&s).map_err(|_| CatalogError::BadDigest(s));
    Ok((|| {
        Ok(ImageRecord {
            id: parse(id)?,
            manifest: parse(manifest)?,
            manifest_media_type: r.get(2).unwrap_or_default(),
            size: r.get::<_, i64>(3).unwrap_or(0) as u64,
            created: r.get(4).unwrap_or_default(),
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8, created: &str) -> ImageRecord {
        ImageRecord {
            id: Digest::of(&[n]),
            manifest: Digest::of(&[n, n]),
            manifest_media_type: crate::manifest::OCI_MANIFEST.into(),
            size: 100 * n as u64,
            created: created.into(),
        }
    }

    #[test]
    fn names_move_between_images() {
        let d = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(&d.path().join("images.db")).unwrap();
        let (a, b) = (
            rec(1, "2026-01-01T00:00:00Z"),
            rec(2, "2026-02-01T00:00:00Z"),
        );
        c.add(&a, &["docker.io/library/busybox:latest".into()])
            .unwrap();
        c.add(&b, &["docker.io/library/busybox:latest".into()])
            .unwrap();
        assert_eq!(
            c.resolve_name("docker.io/library/busybox:latest").unwrap(),
            Some(b.id.clone())
        );
        // a lost its only name but stays (a dangling image, as in Docker)
        let all = c.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, b, "newest first");
        assert!(all[1].1.is_empty());
        c.tag("docker.io/library/busybox:old", &a.id).unwrap();
        assert_eq!(
            c.names_of(&a.id).unwrap(),
            vec!["docker.io/library/busybox:old"]
        );
        assert_eq!(
            c.find_by_id_prefix(&a.id.hex()[..8]).unwrap(),
            vec![a.id.clone()]
        );
        assert!(c.remove(&a.id).unwrap());
        assert_eq!(
            c.resolve_name("docker.io/library/busybox:old").unwrap(),
            None
        );
    }

    #[test]
    fn survives_reopen_and_refuses_newer_schema() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("images.db");
        {
            let mut c = Catalog::open(&p).unwrap();
            c.add(&rec(3, "x"), &["n:1".into()]).unwrap();
        }
        let c = Catalog::open(&p).unwrap();
        assert_eq!(c.list().unwrap().len(), 1);
        drop(c);
        let conn = Connection::open(&p).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let e = Catalog::open(&p).err().unwrap().to_string();
        assert!(e.contains("schema version 99"), "{e}");
    }

    #[test]
    fn a_version_1_catalog_is_migrated_and_keeps_its_images() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("images.db");
        {
            let conn = Connection::open(&p).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch("PRAGMA user_version = 1").unwrap();
            conn.execute(
                "INSERT INTO images VALUES (?1, ?2, 'm', 1, 'c')",
                params![Digest::of(&[3]).to_string(), Digest::of(&[4]).to_string()],
            )
            .unwrap();
        }
        let c = Catalog::open(&p).unwrap();
        assert_eq!(c.list().unwrap().len(), 1);
        let b = Digest::of(&[5]);
        c.add_blob_sources("r:5000", "a/b", std::slice::from_ref(&b))
            .unwrap();
        c.add_blob_sources("r:5000", "c/d", std::slice::from_ref(&b))
            .unwrap();
        assert_eq!(c.blob_sources(&b, "r:5000").unwrap(), ["c/d", "a/b"]);
        assert!(c.blob_sources(&b, "other").unwrap().is_empty());
        c.forget_blob(&b).unwrap();
        assert!(c.blob_sources(&b, "r:5000").unwrap().is_empty());
    }
}
