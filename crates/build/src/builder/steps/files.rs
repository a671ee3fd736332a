//! COPY, ADD and WORKDIR: steps that write files into the stage's root
//! filesystem, and where COPY and RUN --mount read from.

use super::super::copy::CopyInto;
use super::super::work::{View, Work};
use super::layer::Made;
use super::StageRun;
use crate::builder::Result_;
use crate::context::{Source, Tree};
use crate::dockerfile::{Copy, Instruction};
use crate::error::{BuildError, Result};
use crate::ignore::Matcher;
use crate::state::State;
use sha2::Digest as _;
use skiff_runtime::rootfs::resolve::{resolve_in_root, Create};
use std::path::{Path, PathBuf};

/// Files a step reads: the context, or another stage's or image's files.
pub(crate) enum SourceView {
    Context(PathBuf),
    /// Another stage's or an image's files, with what determines them (the
    /// stage's cache key, the image's ID).
    View(View, String),
}

impl SourceView {
    pub fn root(&self) -> &Path {
        match self {
            SourceView::Context(p) => p,
            SourceView::View(v, _) => &v.root,
        }
    }

    /// What determines its files, when something does (not the context).
    pub fn identity(&self) -> Option<&str> {
        match self {
            SourceView::Context(_) => None,
            SourceView::View(_, id) => Some(id),
        }
    }
}

/// A COPY's sources, selected and digested before the cache is asked.
pub(crate) struct Prepared {
    tree: Tree,
    sources: Vec<(Source, Vec<crate::context::Entry>)>,
    dest: String,
    shown: String,
    pub digest: String,
    /// ADD of local files: archives are unpacked.
    unpack: bool,
    /// ADD (not COPY).
    add: bool,
    _view: Option<SourceView>,
    _heredocs: Option<Work>,
}

impl Prepared {
    /// The step's history line.
    pub fn created_by(&self) -> String {
        let word = if self.add { "ADD" } else { "COPY" };
        format!("{word} {}", self.shown)
    }
}

/// `name`, `uid`, `name:group`, `uid:gid` through the image's /etc/passwd
/// and /etc/group; a user without a group gives its number as the group's.
fn owner(rootfs: &Path, spec: &str) -> std::result::Result<(u32, u32), String> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> std::result::Result<u32, String> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(n);
        }
        let path = resolve_in_root(rootfs, file, None).map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[0] == name).then(|| f[2].parse::<u32>().ok())?
            })
            .next()
            .ok_or_else(|| {
                format!("unable to convert uid/gid chown string to host mapping: can't find uid for user {name}: no such user: {name}")
            })
    };
    let uid = lookup("/etc/passwd", u)?;
    let gid = match g {
        Some(g) => lookup("/etc/group", g)?,
        None => uid,
    };
    Ok((uid, gid))
}

impl StageRun<'_, '_> {
    /// Where a step reads from: the context (no `from`), an earlier stage,
    /// or an image.
    pub(super) fn mount_source(
        &self,
        inst: &Instruction,
        from: Option<&str>,
    ) -> Result<SourceView> {
        let b = self.b;
        let err = |m: String| b.step_error(inst.location.line, &inst.original, m);
        let Some(from) = from else {
            return match &b.o.context {
                Some(t) => Ok(SourceView::Context(t.root.clone())),
                None => Err(err("no build context was given".into())),
            };
        };
        let (source, identity) = self.source_state(inst, from)?;
        let view = match source {
            // A stage's files, its last layer perhaps still being stored.
            Ok(r) => r.with_lower_dirs(&b.images, |lower| View::new(&b.image_root, lower))?,
            Err(state) => {
                let lower = state.lower_dirs(&b.images.lock().expect("images"));
                View::new(&b.image_root, lower)?
            }
        };
        Ok(SourceView::View(view, identity))
    }

    /// The stage (Ok) or image (Err: its state) `from` names, and what
    /// determines its files (the stage's cache key, the image's ID).
    fn source_state(
        &self,
        inst: &Instruction,
        from: &str,
    ) -> Result<(std::result::Result<&Result_, State>, String)> {
        let b = self.b;
        let from = self.expand(inst, from)?;
        Ok(match b.stage_ref(&from, self.stage.index) {
            Some(j) => (Ok(&self.done[&j]), self.done[&j].key.clone()),
            None => {
                let id = b
                    .host
                    .image(&from, false)
                    .map_err(|e| b.step_error(inst.location.line, &inst.original, e))?;
                let images = b.images.lock().expect("images");
                (Err(State::of_image(&images, &id)?), format!("image:{id}"))
            }
        })
    }

    /// The cache key part of a `COPY --from`: what determines the source's
    /// files and the words naming them (no mount, no walk: a cached step
    /// needs neither). None for other sources.
    pub(super) fn copy_from_key(&self, inst: &Instruction, c: &Copy) -> Result<Option<String>> {
        let Some(from) = &c.from else {
            return Ok(None);
        };
        if !c.heredocs.is_empty() {
            return Ok(None);
        }
        let (_, identity) = self.source_state(inst, from)?;
        let mut words = Vec::new();
        for w in &c.sources {
            words.push(self.expand(inst, w)?);
        }
        Ok(Some(format!("{identity} {}", words.join(" "))))
    }

    /// What a RUN's bind mount adds to its cache key: the mounted files'
    /// digest (from the context), or what determines them (a stage's key,
    /// an image's ID) and the path.
    pub(super) fn bind_key(
        &self,
        inst: &Instruction,
        m: &crate::dockerfile::Mount,
    ) -> Result<String> {
        let b = self.b;
        let err = |m: String| b.step_error(inst.location.line, &inst.original, m);
        let src = m.source.clone().unwrap_or_else(|| ".".into());
        if let Some(from) = &m.from {
            let (_, id) = self.source_state(inst, from)?;
            return Ok(format!("bind {id} {src}"));
        }
        let view = self.mount_source(inst, None)?;
        let tree = Tree {
            root: view.root().to_path_buf(),
            ignore: b.o.context.as_ref().and_then(|t| t.ignore.clone()),
            keep_owners: false,
            stat_cache: Some(b.stat_cache()),
        };
        let mut all = Vec::new();
        for s in tree.select(&src).map_err(|e| err(e.to_string()))? {
            all.extend(tree.walk(&s, &|_| false).map_err(|e| err(e.to_string()))?);
        }
        Ok(format!(
            "bind {src} {}",
            tree.digest(&all).map_err(|e| err(e.to_string()))?
        ))
    }

    /// An absolute path in the image: relative ones are below WORKDIR.
    pub(super) fn in_image(&self, path: &str) -> String {
        if path.starts_with('/') {
            return path.to_string();
        }
        let wd = self
            .state
            .container()
            .working_dir
            .clone()
            .unwrap_or_default();
        format!("{}/{path}", wd.trim_end_matches('/'))
    }

    pub(super) fn prepare_copy(&self, inst: &Instruction, c: &Copy) -> Result<Prepared> {
        let b = self.b;
        let err = |m: String| b.step_error(inst.location.line, &inst.original, m);
        let dest = self.in_image(&self.expand(inst, &c.dest)?);
        let mut words = Vec::new();
        for s in &c.sources {
            words.push(self.expand(inst, s)?);
        }
        let urls: Vec<String> = words
            .iter()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .cloned()
            .collect();
        let (tree, view, heredocs) = if !urls.is_empty() {
            if urls.len() != words.len() || !c.heredocs.is_empty() || c.from.is_some() {
                return Err(err(
                    "ADD of URLs cannot be mixed with local sources in one instruction".into(),
                ));
            }
            let w = Work::new(&b.image_root)?;
            let dir = w.dir.join("urls");
            std::fs::create_dir_all(&dir).map_err(BuildError::host)?;
            words.clear();
            for u in &urls {
                let name = u
                    .split(['?', '#'])
                    .next()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                    .unwrap_or("__unnamed__")
                    .to_string();
                let to = dir.join(&name);
                b.host.fetch(u, &to).map_err(|e| err(e.to_string()))?;
                if let Some(want) = &c.checksum {
                    let got = format!(
                        "sha256:{}",
                        hex::encode(sha2::Sha256::digest(
                            std::fs::read(&to).map_err(BuildError::host)?
                        ))
                    );
                    if &got != want {
                        return Err(err(format!("digest mismatch {got}: {want}")));
                    }
                }
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                    .map_err(BuildError::host)?;
                words.push(name);
            }
            let tree = Tree {
                root: dir,
                ignore: None,
                keep_owners: false,
                stat_cache: None,
            };
            (tree, None, Some(w))
        } else if !c.heredocs.is_empty() {
            let w = Work::new(&b.image_root)?;
            let dir = w.dir.join("heredocs");
            std::fs::create_dir_all(&dir).map_err(BuildError::host)?;
            for h in &c.heredocs {
                let body = if h.expand {
                    self.expand(inst, &h.content)
                        .unwrap_or_else(|_| h.content.clone())
                } else {
                    h.content.clone()
                };
                std::fs::write(dir.join(&h.name), body).map_err(BuildError::host)?;
                words.push(h.name.clone());
            }
            let tree = Tree {
                root: dir,
                ignore: None,
                keep_owners: false,
                stat_cache: None,
            };
            (tree, None, Some(w))
        } else {
            let view = self.mount_source(inst, c.from.as_deref())?;
            let tree = Tree {
                root: view.root().to_path_buf(),
                ignore: match (&view, &b.o.context) {
                    (SourceView::Context(_), Some(t)) => t.ignore.clone(),
                    _ => None,
                },
                keep_owners: c.from.is_some(),
                stat_cache: matches!(view, SourceView::Context(_)).then(|| b.stat_cache()),
            };
            (tree, Some(view), None)
        };
        let excludes = Matcher::new(&c.excludes).map_err(|e| err(e.to_string()))?;
        let mut sources = Vec::new();
        for w in &words {
            for s in tree.select(w).map_err(|e| err(e.to_string()))? {
                let entries = tree
                    .walk(&s, &|rel| !c.excludes.is_empty() && excludes.excluded(rel))
                    .map_err(|e| err(e.to_string()))?;
                sources.push((s, entries));
            }
        }
        skiff_runtime::log::timing("build: COPY sources walked");
        if sources.len() > 1 && !dest.ends_with('/') {
            return Err(err(
                "When using COPY with more than one source file, the destination must be a directory and end with a /".into(),
            ));
        }
        let all: Vec<crate::context::Entry> = sources
            .iter()
            .flat_map(|(_, e)| e.iter().cloned())
            .collect();
        // Another stage's or an image's files are what its key or ID says:
        // their content is not read again.
        let identity = view.as_ref().and_then(|v| v.identity().map(String::from));
        let mut digest = match &identity {
            Some(id) => format!(
                "{id} {}",
                tree.digest_meta(&all).map_err(|e| err(e.to_string()))?
            ),
            None => tree.digest(&all).map_err(|e| err(e.to_string()))?,
        };
        for (s, _) in &sources {
            digest.push_str(&format!(" {}:{}", s.rel, s.is_dir));
        }
        let shown = format!("{} {dest}", words.join(" "));
        Ok(Prepared {
            tree,
            sources,
            dest,
            shown,
            digest,
            unpack: urls.is_empty()
                && c.from.is_none()
                && c.heredocs.is_empty()
                && matches!(inst.kind, crate::dockerfile::Kind::Add(_)),
            add: matches!(inst.kind, crate::dockerfile::Kind::Add(_)),
            _view: view,
            _heredocs: heredocs,
        })
    }

    pub(super) fn copy(&self, inst: &Instruction, c: &Copy, p: Prepared) -> Result<Made> {
        let b = self.b;
        let err = |m: String| b.step_error(inst.location.line, &inst.original, m);
        let mut work = Work::new(&b.image_root)?;
        // --link: into an empty directory that sees nothing of the state.
        let (rootfs, upper) = if c.link {
            (work.upper(), None)
        } else {
            work.mount(self.lower_dirs())?;
            (work.rootfs(), Some(work.upper()))
        };
        let owner = match &c.chown {
            Some(spec) => {
                let spec = self.expand(inst, spec)?;
                let names = if c.link {
                    Some(View::new(&b.image_root, self.lower_dirs())?)
                } else {
                    None
                };
                let root = names
                    .as_ref()
                    .map_or(rootfs.as_path(), |v| v.root.as_path());
                Some(owner(root, &spec).map_err(err)?)
            }
            None => None,
        };
        let chmod = match &c.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| err(format!("invalid chmod parameter: {m}")))?,
            ),
            None => None,
        };
        // ADD unpacks local archives from the context into the destination.
        let mut plain = Vec::new();
        for (n, (src, entries)) in p.sources.iter().enumerate() {
            let archive = (p.unpack && !src.is_dir)
                .then(|| crate::archive::detect(&p.tree.root.join(&src.rel)))
                .flatten();
            let Some(compression) = archive else {
                plain.push((src.clone(), entries.clone()));
                continue;
            };
            let out = work.dir.join(format!("add-{n}"));
            std::fs::create_dir_all(&out).map_err(BuildError::host)?;
            crate::archive::unpack(&p.tree.root.join(&src.rel), compression, &out)
                .map_err(|e| err(format!("unpacking {}: {e}", src.rel)))?;
            let tree = Tree {
                root: out,
                ignore: None,
                keep_owners: true,
                stat_cache: None,
            };
            let all = Source {
                rel: String::new(),
                is_dir: true,
            };
            let entries = tree
                .walk(&all, &|_| false)
                .map_err(|e| err(e.to_string()))?;
            CopyInto {
                rootfs: &rootfs,
                upper: upper.as_deref(),
                tree: &tree,
                sources: &[(all, entries)],
                dest: &p.dest,
                owner,
                chmod,
                force_dir: true,
            }
            .run()
            .map_err(err)?;
        }
        if !plain.is_empty() {
            CopyInto {
                rootfs: &rootfs,
                upper: upper.as_deref(),
                tree: &p.tree,
                sources: &plain,
                dest: &p.dest,
                owner,
                chmod,
                force_dir: plain.len() < p.sources.len() || p.sources.len() > 1,
            }
            .run()
            .map_err(err)?;
        }
        skiff_runtime::log::timing("build: COPY files written");
        Ok(Made {
            work,
            created_by: p.created_by(),
            working_dir: None,
        })
    }

    pub(super) fn workdir(&self, inst: &Instruction, w: &str) -> Result<Made> {
        let b = self.b;
        let path = self.in_image(&self.expand(inst, w)?);
        let path = format!(
            "/{}",
            crate::context::clean(&path).map_err(|e| b.step_error(
                inst.location.line,
                &inst.original,
                e
            ))?
        );
        let mut work = Work::new(&b.image_root)?;
        work.mount(self.lower_dirs())?;
        resolve_in_root(&work.rootfs(), &path, Some(Create::Dir))
            .map_err(|e| b.step_error(inst.location.line, &inst.original, e))?;
        Ok(Made {
            work,
            created_by: format!("WORKDIR {path}"),
            working_dir: Some(path),
        })
    }
}
