//! The build cache: `builder prune`, its row of `system df`, and caches
//! beyond the store (`--cache-from`, `--cache-to`).

use crate::{Engine, Error, Result};
use skiff_build::cache_io::{BlobSource, Imported};
use skiff_build::Built;
use skiff_image::manifest::Descriptor;
use skiff_image::reference::Reference;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// What `builder prune` removed: the cache entries' keys and the bytes
/// reclaimed.
#[derive(Debug, Clone, Default)]
pub struct CachePruned {
    pub removed: Vec<String>,
    pub bytes: u64,
}

impl Engine {
    /// `builder prune`: cache entries holding layers no image uses (every
    /// entry with `all`), only those unused for `older_than` when given;
    /// then whatever nothing holds any more.
    pub fn builder_prune(
        &self,
        all: bool,
        older_than: Option<std::time::Duration>,
    ) -> Result<CachePruned> {
        let mut images = self.images()?;
        let (image_blobs, _) = images.used_by_images()?;
        let cutoff = older_than.map(|d| crate::time::now_nanos() - d.as_nanos() as i64);
        let mut out = CachePruned::default();
        for e in images.catalog.cache_entries()? {
            if let Some(c) = cutoff {
                match crate::time::parse_rfc3339_nanos(&e.last_used) {
                    Some(t) if t >= c => continue,
                    _ => {}
                }
            }
            if !all && e.blobs.iter().all(|b| image_blobs.contains(b)) {
                continue;
            }
            images.catalog.cache_remove(&e.key)?;
            out.removed.push(e.key);
        }
        out.bytes = images.collect()?;
        let _ = std::fs::remove_dir_all(images.root().join("build-cache-mounts"));
        if all {
            let _ = std::fs::remove_dir_all(skiff_build::statcache::dir(images.root()));
        }
        Ok(out)
    }

    /// `system df`'s build cache, entry by entry: the bytes of its layers
    /// the cache alone holds (each counted once, for its first entry), and
    /// whether images hold all its layers (in use).
    pub(crate) fn build_cache_detail(&self) -> Result<Vec<crate::system::CacheDisk>> {
        let images = self.images()?;
        let (image_blobs, _) = images.used_by_images()?;
        let mut out = Vec::new();
        let mut counted = std::collections::HashSet::new();
        for e in images.catalog.cache_entries()? {
            let mut size = 0;
            for b in e.blobs.iter().filter(|b| !image_blobs.contains(*b)) {
                if counted.insert(b.clone()) {
                    size += images.store.size(b).unwrap_or(0);
                }
            }
            out.push(crate::system::CacheDisk {
                in_use: e.blobs.iter().all(|b| image_blobs.contains(b)),
                key: e.key,
                size,
                created: e.created,
                last_used: e.last_used,
            });
        }
        Ok(out)
    }
}

/// Where a cache is: `type=local` (a directory in the OCI image layout) or
/// `type=registry` (a manifest in a registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheRef {
    Local(PathBuf),
    Registry(String),
}

/// `--cache-to`: where, and whether every stage's steps go (`mode=max`) or
/// only those of the image's layers (`mode=min`, the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTo {
    pub at: CacheRef,
    pub max: bool,
}

impl std::fmt::Display for CacheRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheRef::Local(d) => write!(f, "{}", d.display()),
            CacheRef::Registry(r) => write!(f, "{r}"),
        }
    }
}

/// A `--cache-from`/`--cache-to` value's `type`, its location and its
/// `mode` (BuildKit's syntax; a bare value is a registry reference).
fn parse_cache(spec: &str, path_key: &str) -> Result<(CacheRef, Option<String>)> {
    let bad = |why: &str| Error::Invalid(format!("invalid cache {spec:?}: {why}"));
    if !spec.contains('=') {
        return Ok((CacheRef::Registry(spec.to_string()), None));
    }
    let (mut kind, mut path, mut reference, mut mode) = (None, None, None, None);
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => kind = Some(v),
            Some(("ref", v)) => reference = Some(v),
            Some((k, v)) if k == path_key => path = Some(v),
            Some(("mode", v)) if path_key == "dest" => mode = Some(v.to_string()),
            Some((k, _)) => return Err(bad(&format!("unsupported attribute {k:?}"))),
            None => return Err(bad(&format!("{part:?} is not KEY=VALUE"))),
        }
    }
    let at = match kind {
        Some("local") => CacheRef::Local(
            path.ok_or_else(|| bad(&format!("type=local needs {path_key}=DIR")))?
                .into(),
        ),
        Some("registry") => CacheRef::Registry(
            reference
                .ok_or_else(|| bad("type=registry needs ref=REF"))?
                .into(),
        ),
        Some(t) => return Err(bad(&format!("unsupported type {t:?} (local or registry)"))),
        None => return Err(bad("no type")),
    };
    Ok((at, mode))
}

/// `--cache-from`: `type=local,src=DIR`, `type=registry,ref=REF` or `REF`.
pub fn parse_cache_from(spec: &str) -> Result<CacheRef> {
    parse_cache(spec, "src").map(|(at, _)| at)
}

/// `--cache-to`: `type=local,dest=DIR` or `type=registry,ref=REF`, with
/// `mode=min|max`.
pub fn parse_cache_to(spec: &str) -> Result<CacheTo> {
    let (at, mode) = parse_cache(spec, "dest")?;
    let max = match mode.as_deref() {
        None | Some("min") => false,
        Some("max") => true,
        Some(m) => {
            return Err(Error::Invalid(format!(
                "invalid cache {spec:?}: mode {m:?} (min or max)"
            )))
        }
    };
    Ok(CacheTo { at, max })
}

/// The blobs of a cache in a registry, fetched when a step needs them.
struct RegistryBlobs {
    client: skiff_image::registry::Client,
    repo: skiff_image::registry::Repo,
    rt: tokio::runtime::Runtime,
}

impl BlobSource for RegistryBlobs {
    fn copy(&self, d: &Descriptor, out: &mut dyn Write) -> std::result::Result<(), String> {
        self.rt.block_on(async {
            let mut r = self
                .client
                .get_blob(&self.repo, &d.digest)
                .await
                .map_err(|e| e.to_string())?;
            while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
                out.write_all(&chunk).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

impl Engine {
    /// The caches `from` names, read: a cache that is not there yet is a
    /// warning (as BuildKit's), one that lies or does not parse an error.
    pub(crate) fn import_caches(
        &self,
        from: &[CacheRef],
        tls_verify: bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<Vec<Arc<Imported>>> {
        let mut out = Vec::new();
        for at in from {
            let imported = match at {
                CacheRef::Local(dir) => Imported::from_layout(dir)?,
                CacheRef::Registry(r) => self.import_registry_cache(r, tls_verify)?,
            };
            match imported {
                Some(c) => out.push(Arc::new(c)),
                None => warn(format!("cache {at} not found: nothing imported")),
            }
        }
        Ok(out)
    }

    fn import_registry_cache(&self, reference: &str, tls_verify: bool) -> Result<Option<Imported>> {
        let r = Reference::parse(reference)
            .map_err(|e| Error::Invalid(format!("--cache-from {reference:?}: {e}")))?;
        let client = crate::registry::client_for(r.api_host(), tls_verify, None)?;
        let repo = skiff_image::pull::repo_of(&r);
        let name = format!("type=registry,ref={reference}");
        let rt = crate::images::runtime()?;
        let fetched = rt.block_on(async {
            let m = client.get_manifest(&repo, &r.manifest_reference()).await?;
            let parsed = match skiff_build::cache_io::parse_manifest(&name, &m.bytes) {
                Ok(p) if p.config.size > 64 << 20 => {
                    let e = format!("{name}: its config is too large");
                    return Ok(Err(skiff_build::BuildError::Cache(e)));
                }
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            let config = client.get_blob(&repo, &parsed.config.digest).await?;
            Ok::<_, skiff_image::registry::Error>(Ok((parsed, config.bytes().await?)))
        });
        let (manifest, config) = match fetched {
            Ok(parsed) => parsed?,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => {
                return Err(Error::Build(skiff_build::BuildError::Cache(format!(
                    "{name}: {e}"
                ))))
            }
        };
        let source = RegistryBlobs { client, repo, rt };
        Ok(Some(Imported::new(
            name,
            &manifest,
            &config,
            Box::new(source),
        )?))
    }

    /// Write the cache of `built`'s steps to `to`.
    pub(crate) fn export_cache(&self, built: &Built, to: &CacheTo, tls_verify: bool) -> Result<()> {
        let images = self.images()?;
        let keys = if to.max {
            &built.all_steps
        } else {
            &built.image_steps
        };
        let exported = skiff_build::cache_io::export(&images, keys)?;
        match &to.at {
            CacheRef::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(crate::io_err("creating", dir))?;
                skiff_build::cache_io::write_layout(&images, &exported, dir)?;
            }
            CacheRef::Registry(reference) => {
                let target = Reference::parse(reference)
                    .map_err(|e| Error::Invalid(format!("--cache-to {reference:?}: {e}")))?;
                let client = crate::registry::client_for(target.api_host(), tls_verify, None)?;
                // The config goes to the store for the push to read (a blob
                // nothing holds, collected by the next prune).
                images
                    .store
                    .put_bytes(&exported.config)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                crate::images::runtime()?
                    .block_on(skiff_image::push::push_manifest(
                        &images,
                        &client,
                        &target,
                        &exported.manifest,
                        exported.manifest_bytes.clone(),
                        skiff_image::manifest::OCI_MANIFEST,
                        Arc::new(|_| {}),
                    ))
                    .map_err(|e| {
                        Error::Build(skiff_build::BuildError::Cache(format!(
                            "--cache-to {reference}: {e}"
                        )))
                    })?;
            }
        }
        Ok(())
    }
}
