//! RUN: the command in the stage's root filesystem, through the host's
//! runtime, with the stage's environment, user and working directory and
//! the step's mounts; what it changed becomes the layer.

use super::super::config::command_args;
use super::super::work::Work;
use super::layer::Made;
use super::StageRun;
use crate::dockerfile::{Command, Instruction, MountKind, Run};
use crate::error::{BuildError, Result};
use crate::host::{ExtraMount, HostError, Network, RunRequest};
use crate::progress::Event;
use std::collections::VecDeque;

/// How many lines of a failing RUN's output its error shows.
const TAIL_LINES: usize = 10;

impl StageRun<'_, '_> {
    /// The process a RUN runs: the exec form as given; the shell form
    /// through SHELL, with its here-documents after the command line (the
    /// shell reads them); a command that is only `<<EOF` runs the body as
    /// its script (with the interpreter its `#!` line names).
    fn run_args(&self, r: &Run) -> Vec<String> {
        match (&r.command, r.heredocs.as_slice()) {
            (Command::Shell(line), [only])
                if line.trim() == format!("<<{}", only.name)
                    || line.trim() == format!("<<-{}", only.name) =>
            {
                if let Some(first) = only.content.lines().next().filter(|l| l.starts_with("#!")) {
                    let mut v: Vec<String> =
                        first[2..].split_whitespace().map(String::from).collect();
                    v.push("-c".into());
                    v.push(only.content.clone());
                    // `#!/bin/sh -e` etc.: the interpreter reads the body from -c.
                    return v;
                }
                command_args(&self.state, &Command::Shell(only.content.clone()))
            }
            (Command::Shell(line), docs) if !docs.is_empty() => {
                let mut script = line.clone();
                for d in docs {
                    script.push('\n');
                    script.push_str(&d.content);
                    script.push_str(&d.name);
                }
                command_args(&self.state, &Command::Shell(script))
            }
            (c, _) => command_args(&self.state, c),
        }
    }

    pub(super) fn run(&self, inst: &Instruction, r: &Run, id: usize) -> Result<Made> {
        let b = self.b;
        let err = |m: String| b.step_error(inst.location.line, &inst.original, m);
        let args = self.run_args(r);
        let (arg_env, shown) = self.arg_env();
        let mut env = self.state.container().env.clone();
        env.extend(arg_env);
        let network = match r.network.as_deref() {
            None | Some("default") => b.o.network,
            Some("none") => Network::None,
            Some("host") => Network::Host,
            Some(other) => return Err(err(format!("unsupported network mode {other:?}"))),
        };
        let mut work = Work::new(&b.image_root)?;
        let mut views = Vec::new();
        let mut writable = Vec::new();
        // Cache mounts' locks (sharing=locked, private), held for the step.
        let mut locks = Vec::new();
        let mut mounts = Vec::new();
        let mut targets = Vec::new();
        for m in &r.mounts {
            let target = m.target.clone().unwrap_or_else(|| match (&m.kind, &m.id) {
                (MountKind::Secret, Some(id)) => format!("/run/secrets/{id}"),
                _ => String::new(),
            });
            match m.kind {
                MountKind::Tmpfs => mounts.push(ExtraMount::Tmpfs {
                    target: target.clone(),
                    size: m.size,
                }),
                MountKind::Cache => {
                    let id = m.id.clone().unwrap_or_else(|| target.clone());
                    let base = b
                        .image_root
                        .join("build-cache-mounts")
                        .join(crate::state::step_key("cache-mount", &[&id]).replace(':', "-"));
                    let (dir, lock) = cache_mount_dir(&base, m.sharing)?;
                    locks.extend(lock);
                    if !dir.exists() {
                        std::fs::create_dir_all(&dir).map_err(BuildError::host)?;
                        let (uid, gid) = (m.uid.unwrap_or(0), m.gid.unwrap_or(0));
                        let _ = std::os::unix::fs::chown(&dir, Some(uid), Some(gid));
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(
                            &dir,
                            std::fs::Permissions::from_mode(m.mode.unwrap_or(0o755)),
                        );
                    }
                    mounts.push(ExtraMount::Bind {
                        source: dir,
                        target: target.clone(),
                        readonly: m.readonly,
                    });
                }
                MountKind::Secret => {
                    let id = m.id.clone().unwrap_or_else(|| {
                        target.rsplit('/').next().unwrap_or_default().to_string()
                    });
                    let Some(data) = b.o.secrets.get(&id) else {
                        if m.required {
                            return Err(err(format!("secret {id}: not found")));
                        }
                        continue;
                    };
                    let file = work.dir.join(format!("secret-{}", targets.len()));
                    std::fs::write(&file, data).map_err(BuildError::host)?;
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(
                        &file,
                        std::fs::Permissions::from_mode(m.mode.unwrap_or(0o400)),
                    );
                    let _ = std::os::unix::fs::chown(&file, m.uid, m.gid);
                    if let Some(var) = &m.env {
                        env.push(format!("{var}={}", String::from_utf8_lossy(data)));
                    }
                    if m.env.is_some() && m.target.is_none() {
                        continue;
                    }
                    mounts.push(ExtraMount::Bind {
                        source: file,
                        target: target.clone(),
                        readonly: true,
                    });
                }
                MountKind::Bind => {
                    let view = self.mount_source(inst, m.from.as_deref())?;
                    let src = crate::context::clean(m.source.as_deref().unwrap_or("."))
                        .map_err(|e| err(e.to_string()))?;
                    // Links in the source resolve inside it, never to the host's files.
                    let path = skiff_runtime::rootfs::resolve::resolve_chrooted(view.root(), &src)
                        .ok()
                        .filter(|p| std::fs::symlink_metadata(p).is_ok())
                        .ok_or_else(|| err(format!("\"/{src}\" not found: not found")))?;
                    let source = if m.readonly {
                        path
                    } else {
                        // rw: the RUN writes to a copy-on-write view of the
                        // files, thrown away after it.
                        let w = scratch_over(&b.image_root, &path)?;
                        let source = w.rootfs();
                        writable.push(w);
                        source
                    };
                    mounts.push(ExtraMount::Bind {
                        source,
                        target: target.clone(),
                        readonly: m.readonly,
                    });
                    views.push(view);
                }
                MountKind::Ssh => return Err(err("ssh mounts are not supported".into())),
            }
            targets.push(target);
        }
        work.mount(self.lower_dirs())?;
        let hosts = work.dir.join("hosts");
        let resolv = work.dir.join("resolv.conf");
        std::fs::write(
            &hosts,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        )
        .map_err(BuildError::host)?;
        let host_resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(&resolv, host_resolv).map_err(BuildError::host)?;
        let scratch = work.dir.join("bundle");
        std::fs::create_dir_all(&scratch).map_err(BuildError::host)?;
        let c = self.state.container();
        let req = RunRequest {
            rootfs: &work.rootfs(),
            scratch: &scratch,
            args: args.clone(),
            env,
            user: c.user.clone().unwrap_or_default(),
            cwd: c
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or("/".into()),
            network,
            etc_files: vec![
                ("/etc/hosts".into(), hosts),
                ("/etc/resolv.conf".into(), resolv),
            ],
            mounts,
        };
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut partial = Vec::new();
        let mut output = |data: &[u8]| {
            b.event(Event::Output { id, data });
            partial.extend_from_slice(data);
            while let Some(nl) = partial.iter().position(|c| *c == b'\n') {
                let line: Vec<u8> = partial.drain(..=nl).collect();
                tail.push_back(String::from_utf8_lossy(&line[..nl]).into_owned());
                if tail.len() > TAIL_LINES {
                    tail.pop_front();
                }
            }
        };
        let shown_cmd = args.join(" ");
        skiff_runtime::log::timing("build: RUN mounted");
        let code = match b.host.run(&req, &mut output) {
            Ok(code) => code,
            Err(HostError::Exec { code, message }) => {
                tail.push_back(message);
                code
            }
            Err(e) => return Err(err(e.to_string())),
        };
        if !partial.is_empty() {
            tail.push_back(String::from_utf8_lossy(&partial).into_owned());
        }
        if code != 0 {
            return Err(BuildError::RunFailed {
                file: b.file(),
                line: inst.location.line,
                instruction: shorten(&inst.original),
                command: shorten(&shown_cmd),
                code,
                tail: tail.into_iter().collect(),
            });
        }
        let created_by = if shown.is_empty() {
            format!("RUN {shown_cmd}")
        } else {
            format!("RUN |{} {} {shown_cmd}", shown.len(), shown.join(" "))
        };
        Ok(Made {
            work,
            created_by,
            working_dir: None,
        })
    }
}

/// The directory of a cache mount whose directory for `sharing=shared` is
/// `base`, and the lock that keeps it this step's: `locked` waits for the
/// steps using `base` to end; `private` takes `base` if no step uses it,
/// else a directory of its own beside it (`base-1`, ...), as BuildKit
/// gives a concurrent writer a new mount.
fn cache_mount_dir(
    base: &std::path::Path,
    sharing: crate::dockerfile::Sharing,
) -> Result<(std::path::PathBuf, Option<nix::fcntl::Flock<std::fs::File>>)> {
    use crate::dockerfile::Sharing;
    use skiff_image::snapshot::{lock_file, try_lock_file};
    let lock_of = |d: &std::path::Path| {
        let mut p = d.as_os_str().to_owned();
        p.push(".lock");
        std::path::PathBuf::from(p)
    };
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent).map_err(BuildError::host)?;
    }
    match sharing {
        Sharing::Shared => Ok((base.to_path_buf(), None)),
        Sharing::Locked => {
            let l = lock_file(&lock_of(base)).map_err(BuildError::host)?;
            Ok((base.to_path_buf(), Some(l)))
        }
        Sharing::Private => {
            for n in 0.. {
                let dir = match n {
                    0 => base.to_path_buf(),
                    n => std::path::PathBuf::from(format!("{}-{n}", base.display())),
                };
                if let Some(l) = try_lock_file(&lock_of(&dir)).map_err(BuildError::host)? {
                    return Ok((dir, Some(l)));
                }
            }
            unreachable!("a free directory is found")
        }
    }
}

/// A writable view of `path` whose writes are thrown away with it: a
/// directory under an overlay with an upper dir of its own, a file copied.
fn scratch_over(image_root: &std::path::Path, path: &std::path::Path) -> Result<Work> {
    let mut w = Work::new(image_root)?;
    if path.is_dir() {
        w.mount(vec![path.to_path_buf()])?;
    } else {
        let copy = w.rootfs();
        std::fs::remove_dir(&copy)
            .and_then(|()| std::fs::copy(path, &copy).map(|_| ()))
            .map_err(|e| BuildError::host(format!("copying {}: {e}", path.display())))?;
    }
    Ok(w)
}

/// A command as an error shows it: at most 400 characters.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(400) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
