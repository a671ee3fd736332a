//! A container's lifecycle: `start`, `stop`, `restart`, `kill`, `rm`,
//! `wait`, `pause`, `unpause` and `rename`.

use super::terminal::{check_detach_keys, dup, proxy_signals};
use super::{daemon, open, Failure, Result};
use clap::Args;
use skiff_engine::container::Attach;
use skiff_engine::model::Status;
use std::path::Path;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(root: &Path, runroot: &Path, a: StartArgs) -> Result {
    if a.attach {
        check_detach_keys(&a.detach_keys, 1, "")?;
    }
    let e = open(root, runroot)?;
    if a.attach && a.containers.len() > 1 {
        return Err(Failure {
            code: 1,
            msg: "you cannot start and attach multiple containers at once".into(),
        });
    }
    let mut failed = Vec::new();
    for what in &a.containers {
        let attach = if a.attach {
            Some(Attach {
                stdin: if a.interactive { Some(dup(0)?) } else { None },
                stdout: dup(1)?,
                stderr: dup(2)?,
                detach_keys: a.detach_keys.clone(),
            })
        } else {
            None
        };
        // Starting a running container is not an error for Docker.
        if let Ok(c) = e.find(what) {
            if c.state.status == Status::Running && !a.attach {
                println!("{what}");
                continue;
            }
        }
        match e.start(what, attach) {
            Ok(s) if a.attach => {
                proxy_signals(s.pid);
                let code = s.wait().map_err(Failure::from)?;
                std::process::exit(code.unwrap_or(0));
            }
            Ok(s) => {
                s.detach();
                println!("{what}");
            }
            // Started by another start in the meantime: as above.
            Err(skiff_engine::Error::AlreadyRunning(_)) if !a.attach => println!("{what}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                failed.push(what.as_str());
            }
        }
    }
    if !failed.is_empty() {
        return Err(Failure {
            code: 1,
            msg: format!("Error: failed to start containers: {}", failed.join(", ")),
        });
    }
    Ok(())
}

/// Run `f` on each named container, printing the name or an error, as
/// Docker's stop, kill, rm do.
pub(super) fn each(
    names: &[String],
    mut f: impl FnMut(&str) -> skiff_engine::Result<()>,
) -> Result {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Failure {
            code: 1,
            msg: String::new(),
        })
    } else {
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it.
    #[arg(short = 't', long = "time", allow_hyphen_values = true, value_parser = crate::cli::errors::go_int)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, runroot: &Path, a: StopArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.stop(n, a.time).map(drop))
}

pub fn restart(root: &Path, runroot: &Path, a: StopArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.restart(n, a.time))
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, runroot: &Path, a: KillArgs) -> Result {
    let e = open(root, runroot)?;
    let sig = skiff_engine::container::parse_signal(&a.signal).map_err(|err| Failure {
        code: 1,
        msg: format!("Error response from daemon: {err}"),
    })?;
    each(&a.containers, |n| e.kill(n, sig).map(drop))
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, runroot: &Path, a: RmArgs) -> Result {
    let e = open(root, runroot)?;
    if a.force {
        // -f: a missing container is reported, not a failure (Docker).
        let mut failed = false;
        for n in &a.containers {
            match e.remove(n, true, a.volumes) {
                Ok(_) => println!("{n}"),
                Err(err) if err.kind() == skiff_engine::ErrorKind::NotFound => {
                    eprintln!("Error: {err}")
                }
                Err(err) => {
                    eprintln!("Error response from daemon: {err}");
                    failed = true;
                }
            }
        }
        return if failed {
            Err(Failure {
                code: 1,
                msg: String::new(),
            })
        } else {
            Ok(())
        };
    }
    each(&a.containers, |n| e.remove(n, a.force, a.volumes).map(drop))
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, runroot: &Path, a: WaitArgs) -> Result {
    let e = open(root, runroot)?;
    let mut failed = false;
    for n in &a.containers {
        match e.wait(n, Default::default(), &skiff_engine::notify::Cancel::new()) {
            Ok(code) => println!("{code}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

pub fn rename(root: &Path, runroot: &Path, old: &str, new: &str) -> Result {
    let e = open(root, runroot)?;
    e.rename(old, new).map_err(daemon(1))
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn pause(root: &Path, runroot: &Path, a: NamesArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.pause(n))
}

pub fn unpause(root: &Path, runroot: &Path, a: NamesArgs) -> Result {
    let e = open(root, runroot)?;
    each(&a.containers, |n| e.unpause(n))
}
