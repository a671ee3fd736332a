//! A container's filesystem: `diff`, `commit` and `cp`.

use super::{daemon, open, Failure, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct DiffArgs {
    container: String,
}

pub fn diff(root: &Path, runroot: &Path, a: DiffArgs) -> Result {
    let e = open(root, runroot)?;
    for (k, p) in e.diff(&a.container).map_err(daemon(1))? {
        println!("{k} {p}");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long)]
    author: Option<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Pause container during commit.
    #[arg(short = 'p', long, default_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long)]
    change: Vec<String>,
    container: String,
    /// REPOSITORY[:TAG]
    repository: Option<String>,
}

pub fn commit(root: &Path, runroot: &Path, a: CommitArgs) -> Result {
    let e = open(root, runroot)?;
    let id = e
        .commit(
            &a.container,
            a.repository.as_deref(),
            &skiff_engine::container::CommitOptions {
                author: a.author,
                message: a.message,
                pause: a.pause,
                changes: a.change,
            },
        )
        .map_err(daemon(1))?;
    println!("{id}");
    Ok(())
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH
    src: String,
    /// DEST_PATH or CONTAINER:DEST_PATH
    dest: String,
}

/// `NAME:PATH` (a container path) or a host path (`./x:y` stays a path).
fn split_container_path(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':')
}

pub fn cp(root: &Path, runroot: &Path, a: CpArgs) -> Result {
    let e = open(root, runroot)?;
    let r = match (split_container_path(&a.src), split_container_path(&a.dest)) {
        (Some((c, p)), None) if a.dest == "-" => {
            let mut out = std::io::stdout().lock();
            e.copy_out_tar(c, &absolute(p), a.follow_link, &mut out)
        }
        (None, Some((c, p))) if a.src == "-" => {
            e.copy_in_tar(&mut std::io::stdin().lock(), c, &absolute(p))
        }
        (Some((c, p)), None) => e.copy_out(c, &absolute(p), Path::new(&a.dest), a.follow_link),
        (None, Some((c, p))) => e.copy_in(Path::new(&a.src), c, &absolute(p), a.archive),
        (Some(_), Some(_)) => {
            return Err(Failure {
                code: 1,
                msg: "copying between containers is not supported".into(),
            })
        }
        (None, None) => {
            return Err(Failure {
                code: 1,
                msg: "must specify at least one container source".into(),
            })
        }
    };
    r.map_err(|err| Failure {
        code: 1,
        msg: format!("Error: {err}"),
    })
}

/// A container path relative to its root.
fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}
