//! Runs a parsed Dockerfile: the stages the target needs, each instruction
//! a step whose result is looked up in, or added to, the build cache.

mod config;
mod copy;
mod steps;
mod work;

pub use work::Work;

use crate::context::Tree;
use crate::dockerfile::{self, Dockerfile, Kind, Stage};
use crate::error::{BuildError, Result};
use crate::host::{Host, Network};
use crate::progress::{Event, Progress};
use crate::state::State;
use skiff_image::digest::Digest;
use skiff_image::service::Images;
use skiff_runtime::log::timing;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build arguments every Dockerfile may use without declaring them; they
/// reach RUN steps but neither the image's history nor the cache key.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// What `build` takes.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// Its name, for errors (`Dockerfile`).
    pub dockerfile_name: String,
    /// The context; None when the Dockerfile came alone (`build -`).
    pub context: Option<Tree>,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    /// RUN's network unless a step says otherwise.
    pub network: Network,
    /// `--secret id=...`: contents by ID.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--cache-from`: caches to take steps from when the store has none.
    pub cache_from: Vec<std::sync::Arc<crate::cache_io::Imported>>,
}

/// What a build made.
#[derive(Debug, Clone)]
pub struct Built {
    pub id: Digest,
    /// The names given to it, in full.
    pub names: Vec<String>,
    /// The cache keys of the steps that made its layers (what
    /// `--cache-to mode=min` exports).
    pub image_steps: Vec<String>,
    /// Those of every step of every stage built (`mode=max`).
    pub all_steps: Vec<String>,
}

/// The platform arguments BuildKit defines in the global scope.
fn platform_args() -> Vec<(String, String)> {
    let p = skiff_image::manifest::Platform::host();
    let variant = p.variant.clone().unwrap_or_default();
    let plat = match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    };
    let mut out = Vec::new();
    for side in ["TARGET", "BUILD"] {
        out.push((format!("{side}PLATFORM"), plat.clone()));
        out.push((format!("{side}OS"), p.os.clone()));
        out.push((format!("{side}ARCH"), p.architecture.clone()));
        out.push((format!("{side}VARIANT"), variant.clone()));
    }
    out
}

pub(crate) struct Builder<'a> {
    pub image_root: std::path::PathBuf,
    pub host: &'a dyn Host,
    pub o: &'a BuildOptions,
    pub df: &'a Dockerfile,
    pub images: std::sync::Mutex<Images>,
    pub progress: std::sync::Mutex<&'a mut dyn Progress>,
    pub next_id: std::sync::atomic::AtomicUsize,
    /// The global scope: meta ARGs' values and the platform arguments.
    pub meta: Vec<(String, String)>,
    pub multi: bool,
    /// Content digests of the context's files, by stat: loaded on a thread
    /// of its own while the first steps are looked up.
    stat_cache_loader:
        std::sync::Mutex<Option<std::thread::JoinHandle<crate::statcache::StatCache>>>,
    stat_cache_cell: std::sync::OnceLock<std::sync::Arc<crate::statcache::StatCache>>,
    /// Cache entries this build used, marked used at its end.
    pub used: std::sync::Mutex<Vec<String>>,
}

/// A stage's result: the cache key of its last step, those of the steps
/// that made its layers (its base stage's first), and its state, whose
/// last layer may still be being stored.
#[derive(Clone)]
pub(crate) struct Result_ {
    pub key: String,
    pub steps: Vec<String>,
    last: std::sync::Arc<std::sync::Mutex<Last>>,
}

/// A stage's state and the layer on top of it still being stored; or why
/// storing it failed.
struct Last {
    state: State,
    pending: Option<steps::layer::Pending>,
    failed: Option<String>,
}

impl Result_ {
    pub fn new(
        key: String,
        steps: Vec<String>,
        state: State,
        pending: Option<steps::layer::Pending>,
    ) -> Result_ {
        Result_ {
            key,
            steps,
            last: std::sync::Arc::new(std::sync::Mutex::new(Last {
                state,
                pending,
                failed: None,
            })),
        }
    }

    /// The stage's state, with its last layer (waited for).
    pub fn state(&self) -> Result<State> {
        let mut last = self.last.lock().expect("a stage's state");
        if let Some(p) = last.pending.take() {
            if let Err(e) = p.settle(&mut last.state) {
                last.failed = Some(e.to_string());
            }
        }
        match &last.failed {
            Some(e) => Err(BuildError::Host(e.clone())),
            None => Ok(last.state.clone()),
        }
    }

    /// `f` on the stage's layer directories (topmost first, a layer still
    /// being stored among them), which stay as they are while it runs.
    pub fn with_lower_dirs<T>(
        &self,
        images: &std::sync::Mutex<Images>,
        f: impl FnOnce(Vec<std::path::PathBuf>) -> Result<T>,
    ) -> Result<T> {
        let last = self.last.lock().expect("a stage's state");
        let mut dirs: Vec<std::path::PathBuf> = last.pending.iter().map(|p| p.dir_path()).collect();
        dirs.extend(last.state.lower_dirs(&images.lock().expect("images")));
        f(dirs)
    }
}

impl Builder<'_> {
    pub fn event(&self, e: Event<'_>) {
        self.progress.lock().expect("progress").event(e);
    }

    pub fn vertex(&self) -> usize {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn file(&self) -> String {
        self.o.dockerfile_name.clone()
    }

    /// The error of `inst` (at `line`) failing with `message`.
    pub fn step_error(
        &self,
        line: usize,
        original: &str,
        message: impl std::fmt::Display,
    ) -> BuildError {
        BuildError::Step {
            file: self.file(),
            line,
            instruction: original.to_string(),
            message: message.to_string(),
        }
    }

    fn meta_value(&self, name: &str) -> Option<String> {
        self.meta
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn stage_label(&self, s: &Stage) -> String {
        match (&s.name, self.multi) {
            (Some(n), _) => n.clone(),
            (None, true) => format!("stage-{}", s.index),
            (None, false) => String::new(),
        }
    }

    /// Stages `i` depends on: its base and every `COPY --from` and
    /// `RUN --mount from=` that names a stage.
    fn deps(&self, i: usize) -> Vec<usize> {
        let s = &self.df.stages[i];
        let mut names: Vec<String> = vec![self.expand_meta(&s.base)];
        for inst in &s.instructions {
            match &inst.kind {
                Kind::Copy(c) => names.extend(c.from.iter().map(|f| self.expand_meta(f))),
                Kind::Run(r) => names.extend(
                    r.mounts
                        .iter()
                        .filter_map(|m| m.from.as_ref())
                        .map(|f| self.expand_meta(f)),
                ),
                _ => {}
            }
        }
        names.iter().filter_map(|n| self.stage_ref(n, i)).collect()
    }

    /// The stage `name` refers to from stage `from`: an earlier stage's name
    /// or an index.
    pub fn stage_ref(&self, name: &str, from: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(s) = self.df.stages[..from]
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(s.index);
        }
        match name.parse::<usize>() {
            Ok(i) if i < from => Some(i),
            _ => None,
        }
    }

    pub fn expand_meta(&self, word: &str) -> String {
        let lex = dockerfile::shell::Lexer::new(self.df.escape);
        lex.process_word(word, &|n| self.meta_value(n))
            .unwrap_or_else(|_| word.to_string())
    }

    pub fn stat_cache(&self) -> std::sync::Arc<crate::statcache::StatCache> {
        self.stat_cache_cell
            .get_or_init(|| {
                let loader = self.stat_cache_loader.lock().expect("loader").take();
                std::sync::Arc::new(loader.and_then(|h| h.join().ok()).unwrap_or_default())
            })
            .clone()
    }

    pub fn now(&self) -> String {
        Self::at(std::time::Duration::ZERO)
    }

    /// A minute before now, as [`now`](Self::now) writes times (so the two
    /// compare as strings).
    pub fn a_minute_ago(&self) -> String {
        Self::at(std::time::Duration::from_secs(60))
    }

    fn at(before: std::time::Duration) -> String {
        let ns = std::time::SystemTime::now()
            .checked_sub(before)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        skiff_runtime::state::rfc3339_nanos(ns)
    }
}

/// Build `o.dockerfile` on the engine root `root`; RUN steps and base
/// images through `host`.
pub fn build(
    root: &Path,
    host: &dyn Host,
    o: &BuildOptions,
    progress: &mut dyn Progress,
) -> Result<Built> {
    timing("build: start");
    let df = dockerfile::parse(&o.dockerfile).map_err(|err| BuildError::Parse {
        file: o.dockerfile_name.clone(),
        err,
    })?;
    for k in o.build_args.keys() {
        if k.is_empty() || k.contains('=') {
            return Err(BuildError::Invalid(format!("invalid build argument {k:?}")));
        }
    }
    let images = Images::open(root)?;
    let image_root = images.root().to_path_buf();
    Work::sweep(&image_root);
    timing("build: parsed, store open");
    let mut meta = platform_args();
    let lex = dockerfile::shell::Lexer::new(df.escape);
    for (_, decls) in &df.meta_args {
        for a in decls {
            let value = match (o.build_args.get(&a.name), &a.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(d)) => {
                    let env = |n: &str| {
                        meta.iter()
                            .rev()
                            .find(|(k, _)| k == n)
                            .map(|(_, v)| v.clone())
                    };
                    Some(lex.process_word(d, &env).unwrap_or_else(|_| d.clone()))
                }
                (None, None) => None,
            };
            if let Some(v) = value {
                meta.push((a.name.clone(), v));
            }
        }
    }
    let target = match &o.target {
        Some(t) => df
            .stage(t)
            .filter(|s| s.name.is_some() || t.parse::<usize>().is_ok())
            .map(|s| s.index)
            .ok_or_else(|| BuildError::NoTarget(t.clone()))?,
        None => df.stages.len() - 1,
    };
    let loader = o.context.as_ref().map(|t| {
        let (ir, ctx) = (image_root.clone(), t.root.clone());
        std::thread::spawn(move || crate::statcache::StatCache::load(&ir, &ctx))
    });
    let b = Builder {
        stat_cache_loader: std::sync::Mutex::new(loader),
        stat_cache_cell: std::sync::OnceLock::new(),
        used: std::sync::Mutex::new(Vec::new()),
        image_root,
        host,
        o,
        df: &df,
        images: std::sync::Mutex::new(images),
        progress: std::sync::Mutex::new(progress),
        next_id: std::sync::atomic::AtomicUsize::new(1),
        meta,
        multi: df.stages.len() > 1,
    };
    let built = b.build_stages(target).and_then(|done| {
        let result = done.get(&target).expect("the target was built").clone();
        // Every stage's layers stored (a failure to store one fails the build).
        let mut stages: Vec<_> = done.iter().collect();
        stages.sort_by_key(|(i, _)| **i);
        for (_, r) in &stages {
            r.state()?;
        }
        let mut all_steps: Vec<String> = Vec::new();
        for (_, r) in stages {
            for k in &r.steps {
                if !all_steps.contains(k) {
                    all_steps.push(k.clone());
                }
            }
        }
        timing("build: stages done");
        let mut built = b.export(result.state()?)?;
        timing("build: image written");
        built.image_steps = result.steps;
        built.all_steps = all_steps;
        Ok(built)
    });
    if let Some(c) = b.stat_cache_cell.get() {
        c.save();
    }
    let used = std::mem::take(&mut *b.used.lock().expect("used keys"));
    let _ = b
        .images
        .lock()
        .expect("images")
        .catalog
        .cache_touch(&used, &b.now());
    timing("build: done");
    built
}

impl Builder<'_> {
    /// The stages `target` needs, each built once, those whose inputs are
    /// ready at the same time on threads of their own.
    fn build_stages(&self, target: usize) -> Result<HashMap<usize, Result_>> {
        let mut needed = vec![target];
        let mut i = 0;
        while i < needed.len() {
            for d in self.deps(needed[i]) {
                if !needed.contains(&d) {
                    needed.push(d);
                }
            }
            i += 1;
        }
        needed.sort_unstable();
        let mut done: HashMap<usize, Result_> = HashMap::new();
        while done.len() < needed.len() {
            // Stages only name earlier ones, so some stage is always ready.
            let ready: Vec<usize> = needed
                .iter()
                .copied()
                .filter(|i| {
                    !done.contains_key(i) && self.deps(*i).iter().all(|d| done.contains_key(d))
                })
                .collect();
            let results: Vec<(usize, Result<Result_>)> = if ready.len() == 1 {
                vec![(ready[0], self.run_stage(&self.df.stages[ready[0]], &done))]
            } else {
                std::thread::scope(|scope| {
                    let done = &done;
                    let handles: Vec<_> = ready
                        .iter()
                        .map(|&i| {
                            (
                                i,
                                scope.spawn(move || self.run_stage(&self.df.stages[i], done)),
                            )
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|(i, h)| (i, h.join().expect("a stage's thread panicked")))
                        .collect()
                })
            };
            for (i, r) in results {
                done.insert(i, r?);
            }
        }
        Ok(done)
    }

    fn run_stage(&self, s: &Stage, done: &HashMap<usize, Result_>) -> Result<Result_> {
        let label = self.stage_label(s);
        let total = s.instructions.len() + 1;
        let prefix = |n: usize| {
            if label.is_empty() {
                format!("[{n}/{total}]")
            } else {
                format!("[{label} {n}/{total}]")
            }
        };
        let base = self.expand_meta(&s.base);
        let id = self.vertex();
        let name = format!("{} FROM {base}", prefix(1));
        self.event(Event::Start { id, name: &name });
        let t0 = Instant::now();
        let mut steps = Vec::new();
        let (state, key) = if base.eq_ignore_ascii_case("scratch") {
            (State::scratch(), "scratch".to_string())
        } else if let Some(j) = self.stage_ref(&base, s.index) {
            let r = &done[&j];
            steps = r.steps.clone();
            (r.state()?, r.key.clone())
        } else {
            // In the store already (and no --pull): no need to ask the host.
            let local = if self.o.pull {
                None
            } else {
                self.images.lock().expect("images").resolve(&base).ok()
            };
            let image = match local {
                Some(id) => id,
                None => self.host.image(&base, self.o.pull).map_err(|e| match e {
                    crate::host::HostError::NoSuchImage(m) => BuildError::NoSuchImage(m),
                    e => self.step_error(s.location.line, &s.original, e),
                })?,
            };
            let images = self.images.lock().expect("images");
            (State::of_image(&images, &image)?, format!("image:{image}"))
        };
        self.event(Event::Done {
            id,
            elapsed: t0.elapsed(),
        });
        let mut st = steps::StageRun::new(self, s, state, key, steps, done);
        st.on_build()?;
        for (n, inst) in s.instructions.iter().enumerate() {
            let name = format!("{} {}", prefix(n + 2), inst.original);
            st.step(inst, &name)?;
        }
        st.finish()
    }

    /// The target's state becomes an image, with `--label`s and names.
    fn export(&self, mut state: State) -> Result<Built> {
        let id = self.vertex();
        self.event(Event::Start {
            id,
            name: "exporting to image",
        });
        let t0 = Instant::now();
        if !self.o.labels.is_empty() {
            let labels = &mut state.container_mut().labels;
            for (k, v) in &self.o.labels {
                labels.insert(k.clone(), v.clone());
            }
        }
        if state.config.created.is_none() {
            state.config.created = Some(self.now());
        }
        let mut images = self.images.lock().expect("images");
        let image = images.add_image(
            &state.config,
            state.layers.clone(),
            &self.o.tags,
            state.size,
        )?;
        let text = format!("writing image {image} done");
        self.event(Event::Status { id, text: &text });
        let mut names = Vec::new();
        for t in &self.o.tags {
            if let Ok(r) = skiff_image::reference::Reference::parse(t) {
                // Display names the implied `latest`.
                let full = r.to_string();
                let text = format!("naming to {full} done");
                self.event(Event::Status { id, text: &text });
                names.push(full);
            }
        }
        self.event(Event::Done {
            id,
            elapsed: t0.elapsed(),
        });
        Ok(Built {
            id: image,
            names,
            image_steps: Vec::new(),
            all_steps: Vec::new(),
        })
    }
}
