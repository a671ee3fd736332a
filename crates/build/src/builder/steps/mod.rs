//! One stage's steps: each instruction's cache key, its lookup, and what it
//! does when it must run.

mod files;
pub(crate) mod layer;
mod link;
mod run;

use super::config::{go_quoted, healthcheck, ports};
use super::{Builder, Result_, PROXY_ARGS};
use crate::dockerfile::shell::Lexer;
use crate::dockerfile::{parse_trigger, Instruction, Kind, MountKind, Stage};
use crate::error::{BuildError, Result};
use crate::progress::Event;
use crate::state::{step_key, State};
use skiff_image::build_cache::CacheEntry;
use skiff_image::manifest::History;
use std::collections::HashMap;
use std::time::Instant;

/// The cache entry of the state after step `key` (`size`: its layer's).
pub(crate) fn cache_entry(key: &str, state: &State, size: u64, now: &str) -> CacheEntry {
    CacheEntry {
        key: key.to_string(),
        state: serde_json::to_string(state).expect("a state serializes"),
        blobs: state.layers.iter().map(|l| l.digest.clone()).collect(),
        chains: state.chains(),
        size,
        created: now.to_string(),
        last_used: now.to_string(),
    }
}

pub(crate) struct StageRun<'b, 'a> {
    b: &'b Builder<'a>,
    stage: &'b Stage,
    state: State,
    key: String,
    /// ARGs declared in this stage, with their values.
    args: Vec<(String, Option<String>)>,
    /// A CMD was given in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    done: &'b HashMap<usize, Result_>,
    lex: Lexer,
    /// A layer still being stored.
    pending: Option<layer::Pending>,
    /// The keys of the steps that made this stage's layers so far.
    steps: Vec<String>,
}

/// What a step does once it is known not to be cached.
pub(crate) struct Outcome {
    pub state: State,
}

impl<'b, 'a> StageRun<'b, 'a> {
    pub fn new(
        b: &'b Builder<'a>,
        stage: &'b Stage,
        state: State,
        key: String,
        steps: Vec<String>,
        done: &'b HashMap<usize, Result_>,
    ) -> Self {
        StageRun {
            b,
            stage,
            state,
            key,
            args: Vec::new(),
            cmd_set: false,
            done,
            lex: Lexer::new(b.df.escape),
            pending: None,
            steps,
        }
    }

    /// The stage's result; its last layer may still be being stored (the
    /// stages after it wait for it only if they need its diff ID).
    pub fn finish(mut self) -> Result<Result_> {
        Ok(Result_::new(
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.steps),
            std::mem::take(&mut self.state),
            self.pending.take(),
        ))
    }

    /// A variable as instructions see it: ENV first, then this stage's ARGs.
    fn lookup(&self, name: &str) -> Option<String> {
        self.state.env(name).or_else(|| {
            self.args
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.clone())
                .or_else(|| {
                    PROXY_ARGS
                        .contains(&name)
                        .then(|| self.b.o.build_args.get(name).cloned())
                        .flatten()
                })
        })
    }

    fn expand(&self, inst: &Instruction, word: &str) -> Result<String> {
        self.lex
            .process_word(word, &|n| self.lookup(n))
            .map_err(|e| self.b.step_error(inst.location.line, &inst.original, e))
    }

    fn expand_words(&self, inst: &Instruction, text: &str) -> Result<Vec<String>> {
        self.lex
            .process_words(text, &|n| self.lookup(n))
            .map_err(|e| self.b.step_error(inst.location.line, &inst.original, e))
    }

    /// The build arguments a RUN sees as variables (those ENV does not
    /// override), and the part of them history and cache keys show
    /// (without the proxy arguments).
    fn arg_env(&self) -> (Vec<String>, Vec<String>) {
        let mut all = Vec::new();
        let mut shown = Vec::new();
        for (k, v) in &self.args {
            if let Some(v) = v {
                if self.state.env(k).is_none() {
                    all.push(format!("{k}={v}"));
                    shown.push(format!("{k}={v}"));
                }
            }
        }
        for p in PROXY_ARGS {
            if let Some(v) = self.b.o.build_args.get(p) {
                if !self.args.iter().any(|(k, _)| k == p) {
                    all.push(format!("{p}={v}"));
                }
            }
        }
        (all, shown)
    }

    /// The base image's ONBUILD triggers, run first; the new image keeps none.
    pub fn on_build(&mut self) -> Result<()> {
        let triggers = self.state.container().on_build.clone().unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        for t in &triggers {
            let inst = parse_trigger(t, self.b.df.escape).map_err(|err| BuildError::Parse {
                file: format!("{} (ONBUILD of {})", self.b.file(), self.stage.base),
                err,
            })?;
            let name = format!("[{}] ONBUILD {}", self.stage.base, inst.original);
            self.step(&inst, &name)?;
        }
        self.state.container_mut().on_build = None;
        self.key = step_key(&self.key, &["ONBUILD triggers done"]);
        Ok(())
    }

    /// A step: what it changes in this stage's scope, then its result from
    /// the cache or from running it.
    pub fn step(&mut self, inst: &Instruction, name: &str) -> Result<()> {
        let id = self.b.vertex();
        self.b.event(Event::Start { id, name });
        let t0 = Instant::now();
        let r = self.step_inner(inst, id);
        match &r {
            Ok(()) => self.b.event(Event::Done {
                id,
                elapsed: t0.elapsed(),
            }),
            Err(e) => {
                let message = e.to_string();
                self.b.event(Event::Failed {
                    id,
                    elapsed: t0.elapsed(),
                    message: &message,
                })
            }
        }
        r
    }

    fn step_inner(&mut self, inst: &Instruction, id: usize) -> Result<()> {
        match &inst.kind {
            Kind::Arg(decls) => {
                for a in decls {
                    let value = match (self.b.o.build_args.get(&a.name), &a.default) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(d)) => Some(self.expand(inst, d)?),
                        (None, None) => self.b.meta_value(&a.name),
                    };
                    self.args.push((a.name.clone(), value));
                }
            }
            Kind::Cmd(_) => self.cmd_set = true,
            _ => {}
        }
        let (_, shown_args) = self.arg_env();
        let mut parts: Vec<String> = vec![format!("{:?}", inst.kind), shown_args.join("\n")];
        let prepared = match &inst.kind {
            Kind::Copy(c) | Kind::Add(c) => match self.copy_from_key(inst, c)? {
                Some(k) => {
                    parts.push(k);
                    None
                }
                None => {
                    let p = self.prepare_copy(inst, c)?;
                    parts.push(p.digest.clone());
                    Some(p)
                }
            },
            Kind::Run(r) => {
                for m in r.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
                    parts.push(self.bind_key(inst, m)?);
                }
                None
            }
            _ => None,
        };
        let refs: Vec<&str> = parts.iter().map(|s| s.as_str()).collect();
        let key = step_key(&self.key, &refs);
        let link_key = self.link_key(inst, parts.get(2).map(String::as_str))?;
        skiff_runtime::log::timing("build: step key");
        if !matches!(
            inst.kind,
            Kind::Run(_) | Kind::Copy(_) | Kind::Add(_) | Kind::Workdir(_)
        ) {
            // A change of configuration is a pure function of the state
            // before it: done again, never stored (the cache holds only
            // steps that make layers, so it grows with them, not with every
            // ENV or LABEL of a long Dockerfile).
            let out = self.configure(inst)?;
            self.state = out.state;
            self.key = key;
            return Ok(());
        }
        if !self.b.o.no_cache {
            if let Some(state) = self.cached(&key)? {
                self.settle()?;
                self.state = state;
                self.steps.push(key.clone());
                self.key = key;
                self.b.event(Event::Cached { id });
                skiff_runtime::log::timing("build: step cached");
                return Ok(());
            }
        }
        let (made, reused) = match &inst.kind {
            Kind::Run(r) => (self.run(inst, r, id)?, false),
            Kind::Copy(c) | Kind::Add(c) => {
                let p = match prepared {
                    Some(p) => p,
                    None => self.prepare_copy(inst, c)?,
                };
                let reused = match (&link_key, self.b.o.no_cache) {
                    (Some(lk), false) => self.linked_layer(lk, &p)?,
                    _ => None,
                };
                match reused {
                    Some(made) => (made, true),
                    None => (self.copy(inst, c, p)?, false),
                }
            }
            Kind::Workdir(w) => (self.workdir(inst, w)?, false),
            _ => unreachable!("changes of configuration are done above"),
        };
        if reused {
            // The files of a `--link` layer built on another base.
            self.b.event(Event::Cached { id });
            self.b
                .used
                .lock()
                .expect("used keys")
                .extend(link_key.clone());
        }
        self.commit(&key, made, link_key.as_deref())?;
        self.steps.push(key.clone());
        self.steps.extend(link_key);
        self.key = key;
        Ok(())
    }

    /// The state after step `key` from the store's cache or, failing
    /// that, from a `--cache-from` cache (then kept in the store's).
    fn cached(&self, key: &str) -> Result<Option<State>> {
        let images = self.b.images.lock().expect("images");
        let local = images.catalog.cache_get(key)?.and_then(|e| {
            let state = serde_json::from_str::<State>(&e.state).ok()?;
            Some((state, e.last_used))
        });
        if let Some((state, last_used)) = local.filter(|(s, _)| s.complete(&images)) {
            // Use is recorded to the minute: a build of what was just
            // built writes nothing.
            if last_used < self.b.a_minute_ago() {
                self.b.used.lock().expect("used keys").push(key.to_string());
            }
            return Ok(Some(state));
        }
        for c in &self.b.o.cache_from {
            if let Some((state, size)) = c.take(&images, key)? {
                images
                    .catalog
                    .cache_put(&cache_entry(key, &state, size, &self.b.now()))?;
                return Ok(Some(state));
            }
        }
        Ok(None)
    }

    /// Record the state after step `key`; `size` is its layer's (0: none).
    fn remember(&self, key: &str, state: &State, size: u64) -> Result<()> {
        let images = self.b.images.lock().expect("images");
        images
            .catalog
            .cache_put(&cache_entry(key, state, size, &self.b.now()))?;
        Ok(())
    }

    /// The next state: the current one with `f` applied and a history
    /// entry, dated as the state before it (so the same Dockerfile on the
    /// same cached layers gives the same image).
    fn next(&self, created_by: String, f: impl FnOnce(&mut State)) -> Outcome {
        let mut s = self.state.clone();
        f(&mut s);
        let when = self
            .state
            .config
            .created
            .clone()
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
        s.config.created = Some(when.clone());
        s.config.history.push(History {
            created: Some(when),
            created_by: Some(created_by),
            empty_layer: true,
            ..Default::default()
        });
        Outcome { state: s }
    }

    /// The instructions that change only the configuration.
    fn configure(&self, inst: &Instruction) -> Result<Outcome> {
        let err = |m: String| self.b.step_error(inst.location.line, &inst.original, m);
        Ok(match &inst.kind {
            Kind::Env(kvs) => {
                let mut set = Vec::new();
                let mut scratch = self.state.clone();
                for kv in kvs {
                    // Later pairs see earlier ones only from the next instruction on.
                    let v = self.expand(inst, &kv.value)?;
                    set.push((kv.key.clone(), v));
                }
                for (k, v) in &set {
                    scratch.set_env(k, v);
                }
                let text: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.next(format!("ENV {}", text.join(" ")), |s| {
                    s.container_mut().env = scratch.container().env.clone();
                })
            }
            Kind::Label(kvs) => {
                let mut set = Vec::new();
                for kv in kvs {
                    set.push((self.expand(inst, &kv.key)?, self.expand(inst, &kv.value)?));
                }
                let text: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.next(format!("LABEL {}", text.join(" ")), |s| {
                    for (k, v) in set {
                        s.container_mut().labels.insert(k, v);
                    }
                })
            }
            Kind::Maintainer(m) => self.next(format!("MAINTAINER {m}"), |s| {
                s.config.author = Some(m.clone());
            }),
            Kind::Expose(words) => {
                let mut all = Vec::new();
                for w in words {
                    for word in self.expand_words(inst, w)? {
                        all.extend(ports(&word).map_err(err)?);
                    }
                }
                let mut sorted = all.clone();
                sorted.sort();
                sorted.dedup();
                let shown: Vec<String> = sorted.iter().map(|p| format!("{p}:{{}}")).collect();
                self.next(format!("EXPOSE map[{}]", shown.join(" ")), |s| {
                    for p in all {
                        s.container_mut()
                            .exposed_ports
                            .insert(p, Default::default());
                    }
                })
            }
            Kind::Arg(decls) => {
                let text: Vec<String> = decls
                    .iter()
                    .map(
                        |a| match self.args.iter().rev().find(|(k, _)| *k == a.name) {
                            Some((k, Some(v))) => format!("{k}={v}"),
                            _ => a.name.clone(),
                        },
                    )
                    .collect();
                self.next(format!("ARG {}", text.join(" ")), |_| {})
            }
            Kind::Cmd(c) => {
                let args = super::config::command_args(&self.state, c);
                self.next(format!("CMD {}", go_quoted(&args)), |s| {
                    s.container_mut().cmd = Some(args.clone());
                })
            }
            Kind::Entrypoint(c) => {
                let args = super::config::command_args(&self.state, c);
                let keep_cmd = self.cmd_set;
                self.next(format!("ENTRYPOINT {}", go_quoted(&args)), |s| {
                    let c = s.container_mut();
                    c.entrypoint = Some(args.clone());
                    if !keep_cmd {
                        c.cmd = None;
                    }
                })
            }
            Kind::Shell(v) => self.next(format!("SHELL [{}]", v.join(" ")), |s| {
                s.container_mut().shell = Some(v.clone());
            }),
            Kind::Volume(words) => {
                let mut vols = Vec::new();
                for w in words {
                    let v = self.expand(inst, w)?;
                    if v.trim().is_empty() {
                        return Err(err("VOLUME specified can not be an empty string".into()));
                    }
                    vols.push(v);
                }
                self.next(format!("VOLUME [{}]", vols.join(" ")), |s| {
                    for v in vols {
                        s.container_mut().volumes.insert(v, Default::default());
                    }
                })
            }
            Kind::User(u) => {
                let u = self.expand(inst, u)?;
                self.next(format!("USER {u}"), |s| {
                    s.container_mut().user = Some(u.clone());
                })
            }
            Kind::Stopsignal(sig) => {
                let sig = self.expand(inst, sig)?;
                self.next(format!("STOPSIGNAL {sig}"), |s| {
                    s.container_mut().stop_signal = Some(sig.clone());
                })
            }
            Kind::Healthcheck(h) => {
                let hc = healthcheck(h);
                let text = format!("HEALTHCHECK {}", go_quoted(&hc.test));
                self.next(text, |s| s.container_mut().healthcheck = Some(hc))
            }
            Kind::Onbuild(trigger) => {
                // Recorded in the configuration only: no history row, as BuildKit.
                let mut s = self.state.clone();
                s.container_mut()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.trigger_text());
                Outcome { state: s }
            }
            Kind::Run(_) | Kind::Copy(_) | Kind::Add(_) | Kind::Workdir(_) => {
                unreachable!("steps that write files are not configuration")
            }
        })
    }
}
