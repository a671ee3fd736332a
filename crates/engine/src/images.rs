//! Images behind the engine's facade: listing, inspecting, naming, removing
//! (with Docker's rules for images that containers use), pruning, and moving
//! them between the store and registries or archives. Front ends never open
//! the image store themselves.

use crate::model::Status;
use crate::{Engine, Error, Object, Result};
use skiff_image::digest::Digest;
use skiff_image::reference::Reference;
use skiff_image::service::{familiar, HistoryLine, Images, ImagesError, Removed};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use skiff_image::archive::Format as ArchiveFormat;
pub use skiff_image::import::ImportOptions;
pub use skiff_image::pull::PullEvent;
pub use skiff_image::push::PushEvent;

/// One image, as `images` lists it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// (repository, tag) of each name, familiar (`busybox`, `latest`); a
    /// digest-only name has the tag `<none>`.
    pub repo_tags: Vec<(String, String)>,
    /// The manifest digest.
    pub digest: Digest,
    /// RFC 3339.
    pub created: String,
    /// Bytes unpacked.
    pub size: u64,
}

/// When `create` pulls the image it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// When it is not in the store (`docker run`'s default).
    #[default]
    Missing,
    /// Every time.
    Always,
    /// Never: a missing image is an error (the Docker API: its client pulls).
    Never,
}

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// `os/arch[/variant]`; the host's when None.
    pub platform: Option<String>,
    /// Off: plain HTTP for this registry.
    pub tls_verify: bool,
    /// These (the API's `X-Registry-Auth`), else the saved ones.
    pub credentials: Option<skiff_image::registry::Credentials>,
    pub progress: Arc<dyn Fn(PullEvent) + Send + Sync>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            tls_verify: true,
            credentials: None,
            progress: Arc::new(|_| {}),
        }
    }
}

/// What a prune removed and the bytes it gave back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<String>,
    pub bytes: u64,
}

/// A container that uses an image: its ID and whether it runs.
#[derive(Debug, Clone)]
struct User {
    id: String,
    running: bool,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting the registry client's runtime: {e}")))
}

fn invalid_reference(e: skiff_image::reference::ReferenceError) -> Error {
    Error::Image(ImagesError::Reference(e))
}

impl Engine {
    /// The image store (opened for the call: it is cheap, and a store of
    /// SQLite connections is not shared between threads).
    pub(crate) fn images(&self) -> Result<Images> {
        Ok(Images::open(&self.paths.root)?)
    }

    /// `images [REFERENCE]`: every image (with `reference`, those with a
    /// name of that repository, and tag if given), newest first.
    pub fn image_list(&self, reference: Option<&str>) -> Result<Vec<ImageSummary>> {
        let filter = reference
            .map(Reference::parse)
            .transpose()
            .map_err(invalid_reference)?;
        let mut out = Vec::new();
        for info in self.images()?.list()? {
            let repo_tags: Vec<(String, String)> = info
                .names
                .iter()
                .filter_map(|n| Reference::parse(n).ok())
                .filter(|r| {
                    filter.as_ref().is_none_or(|f| {
                        f.familiar() == r.familiar() && (f.tag.is_none() || f.tag == r.tag)
                    })
                })
                .map(|r| {
                    (
                        r.familiar(),
                        r.tag.clone().unwrap_or_else(|| "<none>".into()),
                    )
                })
                .collect();
            if repo_tags.is_empty() && filter.is_some() {
                continue;
            }
            out.push(ImageSummary {
                id: info.record.id.clone(),
                repo_tags,
                digest: info.record.manifest.clone(),
                created: info.record.created.clone(),
                size: info.record.size,
            });
        }
        Ok(out)
    }

    /// The IDs of the images in the store, each once.
    pub fn image_ids(&self) -> Result<Vec<Digest>> {
        let mut ids: Vec<Digest> = Vec::new();
        for i in self.images()?.list()? {
            if !ids.contains(&i.record.id) {
                ids.push(i.record.id);
            }
        }
        Ok(ids)
    }

    /// `image inspect`: Docker's JSON document.
    pub fn image_inspect(&self, what: &str) -> Result<serde_json::Value> {
        Ok(self.images()?.inspect(what)?)
    }

    /// `history`: the image's ID and its steps, newest first.
    pub fn image_history(&self, what: &str) -> Result<(Digest, Vec<HistoryLine>)> {
        Ok(self.images()?.history(what)?)
    }

    /// `tag SOURCE TARGET`.
    pub fn image_tag(&self, source: &str, target: &str) -> Result<()> {
        Ok(self.images()?.tag(source, target)?)
    }

    /// `import`: a root filesystem tarball becomes an image; its ID.
    pub fn image_import(
        &self,
        tar: impl std::io::Read,
        name: Option<&str>,
        opts: &ImportOptions,
    ) -> Result<Digest> {
        let tar = skiff_build::archive::decompressed(tar)
            .map_err(|e| Error::Invalid(format!("reading the archive: {e}")))?;
        // Made now, unless told otherwise.
        let mut opts = opts.clone();
        opts.created.get_or_insert_with(crate::time::now);
        Ok(self.images()?.import(tar, name, &opts)?)
    }

    /// `import URL`: the archive at an `http(s)://` URL, downloaded, then
    /// imported as [`Engine::image_import`] does.
    pub fn image_import_url(
        &self,
        url: &str,
        name: Option<&str>,
        opts: &ImportOptions,
    ) -> Result<Digest> {
        let tmp = self.paths.temp("import")?;
        let got = download(url, &tmp).map_err(|e| Error::Invalid(format!("import {url}: {e}")));
        let result = got.and_then(|()| {
            let f = std::fs::File::open(&tmp)
                .map_err(|e| Error::Internal(format!("{}: {e}", tmp.display())))?;
            self.image_import(std::io::BufReader::new(f), name, opts)
        });
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// `save`: the images as one archive written to `out`.
    pub fn image_save(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: impl std::io::Write,
    ) -> Result<()> {
        skiff_image::archive::save(&self.images()?, names, format, out)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// `load`: the images of an archive; each one's names and ID.
    pub fn image_load(&self, input: impl std::io::Read) -> Result<Vec<(Vec<String>, Digest)>> {
        let loaded =
            skiff_image::archive::load(&mut self.images()?, input).map_err(|e| match e {
                skiff_image::archive::ArchiveError::Images(e) => Error::Image(e),
                e => Error::Invalid(e.to_string()),
            })?;
        Ok(loaded)
    }

    /// The images containers use, each with one such container (a running
    /// one if any runs).
    fn image_users(&self) -> Result<HashMap<String, User>> {
        let mut m: HashMap<String, User> = HashMap::new();
        for c in self.store.list()? {
            let running = matches!(c.state.status, Status::Running | Status::Paused);
            let u = m.entry(c.image_id.clone()).or_insert(User {
                id: c.id.clone(),
                running,
            });
            if running {
                *u = User { id: c.id, running };
            }
        }
        Ok(m)
    }

    /// `rmi`: by name, the name goes (and the image with its last name); by
    /// ID, the image (`force`: whatever names it has). An image a container
    /// uses keeps its ID: a second name just goes, the last one only with
    /// `force`; by ID never while the container runs, and with `force` it
    /// only loses its names.
    pub fn image_remove(&self, what: &str, force: bool) -> Result<Vec<Removed>> {
        let mut imgs = self.images()?;
        let id = imgs.resolve(what)?;
        if let Some(user) = self.image_users()?.get(&id.to_string()) {
            let names = imgs.catalog.names_of(&id).map_err(ImagesError::from)?;
            let by_id = !Reference::parse(what)
                .map(|r| names.contains(&r.to_string()))
                .unwrap_or(false);
            let short = &id.hex()[..12];
            let cshort = &user.id[..12];
            if by_id || names.len() <= 1 {
                let msg = match (force, user.running, by_id) {
                    (true, true, _) => format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container {cshort}"),
                    (false, _, true) => format!("conflict: unable to delete {short} (must be forced) - image is being used by {} container {cshort}", if user.running { "running" } else { "stopped" }),
                    (false, _, false) => format!("conflict: unable to remove repository reference \"{what}\" (must force) - container {cshort} is using its referenced image {short}"),
                    (true, false, _) => {
                        let mut out = Vec::new();
                        for n in names {
                            imgs.catalog.untag(&n).map_err(ImagesError::from)?;
                            out.push(Removed::Untagged(familiar(&n)));
                        }
                        return Ok(out);
                    }
                };
                return Err(Error::Conflict(msg));
            }
        }
        Ok(imgs.remove(what, force)?)
    }

    /// `image prune`: images without a name (with `all`, every image) that
    /// no container uses, then the blobs and layers nothing needs.
    pub fn image_prune(&self, all: bool) -> Result<Pruned> {
        let keep: HashSet<Digest> = self
            .image_users()?
            .keys()
            .filter_map(|k| k.parse().ok())
            .collect();
        let (removed, bytes) = self.images()?.prune_keeping(all, &keep)?;
        Ok(Pruned {
            removed: removed.iter().map(|d| d.to_string()).collect(),
            bytes,
        })
    }

    /// `pull`: the image `reference` names, from its registry; the full
    /// reference pulled (`host/name:tag`) and the image's ID.
    pub fn pull(&self, reference: &str, o: &PullOptions) -> Result<(String, Digest)> {
        let r = Reference::parse(reference).map_err(invalid_reference)?;
        let client =
            crate::registry::client_for(r.api_host(), o.tls_verify, o.credentials.clone())?;
        let mut opts = skiff_image::pull::PullOptions {
            progress: o.progress.clone(),
            ..Default::default()
        };
        if let Some(p) = &o.platform {
            opts.platform = p
                .parse()
                .map_err(|e| Error::Invalid(format!("invalid platform {p:?}: {e}")))?;
        }
        let mut imgs = self.images()?;
        let id = runtime()?
            .block_on(skiff_image::pull::pull(&mut imgs, &client, &r, &opts))
            .map_err(pull_error)?;
        let full = match (&r.tag, &r.digest) {
            (None, None) => r.with_tag("latest").map_err(invalid_reference)?.to_string(),
            _ => r.to_string(),
        };
        Ok((full, id))
    }

    /// The image `reference` names, pulled as `policy` says; its ID.
    pub fn ensure_image(
        &self,
        reference: &str,
        policy: PullPolicy,
        o: &PullOptions,
    ) -> Result<Digest> {
        let have = self.images()?.resolve(reference);
        match (have, policy) {
            (Ok(id), PullPolicy::Missing | PullPolicy::Never) => Ok(id),
            (Err(e), PullPolicy::Never) => Err(e.into()),
            (Err(ImagesError::NoSuchImage(_)), _) | (Ok(_), PullPolicy::Always) => {
                Ok(self.pull(reference, o)?.1)
            }
            (Err(e), _) => Err(e.into()),
        }
    }

    /// `push`: the local image `reference` names, to the registry the name
    /// names; the pushed manifest's digest.
    /// With `credentials` (the API's `X-Registry-Auth`), those are used,
    /// else the saved ones.
    pub fn push(
        &self,
        reference: &str,
        tls_verify: bool,
        credentials: Option<skiff_image::registry::Credentials>,
        progress: Arc<dyn Fn(PushEvent) + Send + Sync>,
    ) -> Result<Digest> {
        let target = Reference::parse(reference).map_err(invalid_reference)?;
        let client = crate::registry::client_for(target.api_host(), tls_verify, credentials)?;
        let imgs = self.images()?;
        let digest = runtime()?
            .block_on(skiff_image::push::push(
                &imgs,
                &client,
                &target.to_string(),
                &target,
                progress,
            ))
            .map_err(|e| match e {
                skiff_image::push::PushError::Images(e) => Error::Image(e),
                e => Error::Internal(e.to_string()),
            })?;
        Ok(digest)
    }

    /// `login`: the credentials checked against the registry, then saved;
    /// the registry's name.
    pub fn login(
        &self,
        server: Option<&str>,
        user: &str,
        password: &str,
        tls_verify: bool,
    ) -> Result<String> {
        let name = self.check_login(server, user, password, tls_verify)?;
        let (_, api) = crate::registry::server_name(server);
        skiff_image::auth::save(&skiff_image::auth::default_path(), &api, user, password)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(name)
    }

    /// The credentials checked against the registry, nothing saved (the
    /// API's `/auth`: the client keeps them); the registry's name.
    pub fn check_login(
        &self,
        server: Option<&str>,
        user: &str,
        password: &str,
        tls_verify: bool,
    ) -> Result<String> {
        let (name, api) = crate::registry::server_name(server);
        let creds = skiff_image::registry::Credentials::basic(user, password);
        let client = crate::registry::client_for(&api, tls_verify, Some(creds))?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?
            .block_on(skiff_image::auth::check_login(&client, &api))
            .map_err(|e| Error::Unauthorized(format!("login to {name} failed: {e}")))?;
        Ok(name)
    }

    /// `logout`: the registry's name, and whether credentials were saved.
    pub fn logout(&self, server: Option<&str>) -> Result<(String, bool)> {
        let (name, api) = crate::registry::server_name(server);
        let had = skiff_image::auth::remove(&skiff_image::auth::default_path(), &api)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok((name, had))
    }
}

/// A pull's failure: the image not in the registry is NotFound.
fn pull_error(e: skiff_image::pull::PullError) -> Error {
    use skiff_image::pull::PullError;
    if let PullError::Registry(r) = &e {
        if let skiff_image::registry::Error::Status { status, .. } = r.as_ref() {
            if status.as_u16() == 404 {
                return Error::not_found(Object::Image, e.to_string());
            }
        }
    }
    Error::Internal(e.to_string())
}

/// Download `url` (http or https) to the file `to`; a status other than
/// success is an error naming it.
pub(crate) fn download(url: &str, to: &std::path::Path) -> std::result::Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let http = skiff_image::registry::Config::default()
        .http_client()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut resp = http.get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("invalid response status {}", resp.status()));
        }
        let mut f = std::fs::File::create(to).map_err(|e| e.to_string())?;
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            std::io::Write::write_all(&mut f, &chunk).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}
