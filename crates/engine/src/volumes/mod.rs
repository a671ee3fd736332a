//! Volumes and the mounts of a container: named and anonymous volumes (data
//! under `<root>/volumes/<name>/_data`, as Docker keeps it), bind mounts and
//! tmpfs, from `-v`, `--mount` and `--tmpfs` as Docker parses them. This
//! module owns the volume rows and the `volume` commands; `parse` reads
//! the flags, `mounts` makes a container's mounts, and `cp` copies in and
//! out of a container.

use crate::{io_err, Engine, Error, Result};
use rusqlite::params;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod cp;
mod mounts;
mod parse;

pub use parse::{
    api_mount, check_volume_name, parse_mount_flag, parse_tmpfs_flag, parse_volume_flag,
};

/// One volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME).
    pub anonymous: bool,
}

impl Engine {
    /// The directory holding volume `name`'s data.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.paths.root.join("volumes").join(name).join("_data")
    }

    /// `volume create` (an existing volume of that name is returned as is).
    pub fn volume_create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume> {
        Ok(self.volume_make(name, labels, anonymous)?.0)
    }

    /// [`volume_create`](Self::volume_create), and whether this call made it
    /// (two concurrent creates of one name: one makes it).
    fn volume_make(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(Volume, bool)> {
        let name = match name {
            Some(n) => {
                check_volume_name(n)?;
                n.to_string()
            }
            None => crate::names::new_id(),
        };
        if let Some(v) = self.volume_get(&name)? {
            return Ok((v, false));
        }
        let data = self.volume_data(&name);
        std::fs::create_dir_all(&data).map_err(io_err("creating", &data))?;
        let v = Volume {
            name,
            created: crate::time::now(),
            labels,
            anonymous,
        };
        let made = self
            .store
            .conn()?
            .execute(
                "INSERT OR IGNORE INTO volumes (name, created, labels, anonymous) VALUES (?1, ?2, ?3, ?4)",
                params![
                    v.name,
                    v.created,
                    serde_json::to_string(&v.labels).expect("labels"),
                    v.anonymous
                ],
            )
            .map_err(|e| self.store.err(e))?
            > 0;
        if !made {
            let v = self.volume_get(&v.name)?.ok_or_else(|| {
                Error::not_found(
                    crate::Object::Volume,
                    format!("get {}: no such volume", v.name),
                )
            })?;
            return Ok((v, false));
        }
        let _ = self
            .store
            .add_event("volume", "create", &v.name, &json!({"driver": "local"}));
        Ok((v, true))
    }

    pub fn volume_get(&self, name: &str) -> Result<Option<Volume>> {
        use rusqlite::OptionalExtension;
        self.store
            .conn()?
            .query_row(
                "SELECT name, created, labels, anonymous FROM volumes WHERE name = ?1",
                params![name],
                |r| {
                    Ok(Volume {
                        name: r.get(0)?,
                        created: r.get(1)?,
                        labels: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                        anonymous: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.store.err(e).into())
    }

    pub fn volume_list(&self) -> Result<Vec<Volume>> {
        let conn = self.store.conn()?;
        let mut st = conn
            .prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name")
            .map_err(|e| self.store.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(Volume {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    labels: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                    anonymous: r.get(3)?,
                })
            })
            .map_err(|e| self.store.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.store.err(e).into())
    }

    /// `volume ls`: the volumes `f` selects (`dangling`, `name` by
    /// substring, `label`, `driver`).
    pub fn volumes(&self, f: &crate::filters::Filters) -> Result<Vec<Volume>> {
        f.check_keys(&["dangling", "name", "label", "driver"])?;
        let dangling = f.bool_value("dangling")?;
        let mut out = Vec::new();
        for v in self.volume_list()? {
            let keep = f.matches("name", |n| v.name.contains(n))
                && f.matches("driver", |d| d == "local")
                && f.match_labels(&v.labels)
                && match dangling {
                    Some(d) => self.volume_users(&v.name)?.is_empty() == d,
                    None => true,
                };
            if keep {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// IDs of the containers using volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list()?
            .into_iter()
            .filter(|c| {
                c.host
                    .mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == name)
            })
            .map(|c| c.id)
            .collect())
    }

    /// `volume rm`: refused while a container uses it; a missing volume is
    /// an error unless `force`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        if self.volume_get(name)?.is_none() {
            if force {
                return Ok(());
            }
            return Err(Error::not_found(
                crate::Object::Volume,
                format!("get {name}: no such volume"),
            ));
        }
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.paths.root.join("volumes").join(name);
        // The record first: a half-removed directory is never a volume.
        self.store
            .conn()?
            .execute("DELETE FROM volumes WHERE name = ?1", params![name])
            .map_err(|e| self.store.err(e))?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        let _ = self
            .store
            .add_event("volume", "destroy", name, &json!({"driver": "local"}));
        Ok(())
    }

    /// `volume prune`: every volume no container uses; returns the names and
    /// the bytes freed.
    pub fn volume_prune(&self) -> Result<(Vec<String>, u64)> {
        let mut gone = Vec::new();
        let mut bytes = 0;
        for v in self.volume_list()? {
            if self.volume_users(&v.name)?.is_empty() {
                bytes += dir_size(&self.volume_data(&v.name));
                self.volume_remove(&v.name, false)?;
                gone.push(v.name);
            }
        }
        Ok((gone, bytes))
    }

    /// Docker's `volume inspect` JSON.
    pub fn volume_inspect(&self, v: &Volume) -> Value {
        // Whole seconds, as Docker shows a volume's creation.
        let created = match crate::time::parse_rfc3339_nanos(&v.created) {
            Some(n) => format!("{}Z", &crate::time::rfc3339_nanos(n)[..19]),
            None => v.created.clone(),
        };
        let empty = if v.anonymous { Value::Null } else { json!({}) };
        json!({
            "CreatedAt": created,
            "Driver": "local",
            "Labels": if v.labels.is_empty() { empty.clone() } else { json!(v.labels) },
            "Mountpoint": self.volume_data(&v.name),
            "Name": v.name,
            "Options": empty,
            "Scope": "local",
        })
    }
}

/// Bytes in the files under `p`.
pub fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}
