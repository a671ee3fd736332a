//! `build` / `image build`: docker build's flags, BuildKit's plain
//! progress lines on stderr, the image ID with `-q`; the work is the
//! engine's (`Engine::build`).

use super::build_progress::{Plain, Tty};
use clap::Args;
use skiff_build::context::Tree;
use skiff_engine::build::{self, BuildIo, BuildOptions, Progress};
use skiff_engine::images::PullOptions;
use skiff_engine::Engine;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BuildArgs {
    /// The build context: a directory, or - (a Dockerfile or a tar on stdin).
    context: String,
    /// Name of the Dockerfile (default: PATH/Dockerfile); - reads it from stdin.
    #[arg(short, long)]
    file: Option<String>,
    /// Name and optionally a tag (name:tag).
    #[arg(short, long = "tag")]
    tag: Vec<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg")]
    build_arg: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Always attempt to pull a newer version of the base images.
    #[arg(long)]
    pull: bool,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    quiet: bool,
    /// Set metadata for an image (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// Write the image ID to the file.
    #[arg(long)]
    iidfile: Option<PathBuf>,
    /// Secret to expose to the build: id=ID[,src=FILE|env=VAR].
    #[arg(long)]
    secret: Vec<String>,
    /// Networking mode for the RUN instructions: default, none or host.
    #[arg(long, default_value = "default")]
    network: String,
    /// Type of progress output: auto, plain, tty or quiet.
    #[arg(long, default_value = "auto")]
    progress: String,
    /// Output destination: type=local|tar|oci|docker,dest=PATH (or a directory).
    #[arg(short, long)]
    output: Vec<String>,
    /// External cache sources: type=local,src=DIR, type=registry,ref=REF or REF.
    #[arg(long = "cache-from")]
    cache_from: Vec<String>,
    /// Cache export destinations: type=local,dest=DIR or type=registry,ref=REF [,mode=min|max].
    #[arg(long = "cache-to")]
    cache_to: Vec<String>,
    /// Skip TLS verification of registries base images are pulled from.
    #[arg(long = "tls-verify", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
}

type Result = std::result::Result<(), super::Failure>;

fn fail(msg: impl std::fmt::Display) -> super::Failure {
    super::Failure {
        code: 1,
        msg: format!("ERROR: {msg}"),
    }
}

/// Each of `v` parsed by `f`.
fn each<T>(
    v: &[String],
    f: fn(&str) -> skiff_engine::Result<T>,
) -> std::result::Result<Vec<T>, super::Failure> {
    v.iter()
        .map(|s| f(s))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(fail)
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    std::io::stdin().read_to_end(&mut v)?;
    Ok(v)
}

pub fn build(root: &Path, runroot: &Path, a: BuildArgs) -> Result {
    let mut build_args = BTreeMap::new();
    for kv in &a.build_arg {
        match kv.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(kv) {
                    build_args.insert(kv.clone(), v);
                }
            }
        }
    }
    let mut labels = BTreeMap::new();
    for kv in &a.label {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let mut secrets = BTreeMap::new();
    for s in &a.secret {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", "file" | "env")) => {}
                _ => return Err(fail(format!("invalid secret {s:?}"))),
            }
        }
        let id = id.ok_or_else(|| fail(format!("invalid secret {s:?}: no id")))?;
        let data = match (src, env) {
            (Some(f), _) => {
                std::fs::read(&f).map_err(|e| fail(format!("secret {id}: {f}: {e}")))?
            }
            (None, Some(v)) => std::env::var(&v)
                .map_err(|_| fail(format!("secret {id}: no variable {v}")))?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .map_err(|_| fail(format!("secret {id}: no variable {id}")))?
                .into_bytes(),
        };
        secrets.insert(id, data);
    }
    let network = match a.network.as_str() {
        "default" | "none" => skiff_build::Network::None,
        "host" => skiff_build::Network::Host,
        other => {
            return Err(fail(format!(
                "network mode {other:?} not supported by buildkit"
            )))
        }
    };
    if !matches!(a.progress.as_str(), "auto" | "plain" | "tty" | "quiet") {
        return Err(fail(format!("invalid progress mode {:?}", a.progress)));
    }

    // The context and the Dockerfile.
    let mut _unpacked: Option<tempfile::TempDir> = None;
    let (context_dir, dockerfile, name): (Option<PathBuf>, String, String) = if a.context == "-" {
        let data = read_stdin().map_err(fail)?;
        if skiff_build::context::is_tar(&data) {
            let dir = tempfile::tempdir().map_err(fail)?;
            skiff_build::context::unpack_tar(&data[..], dir.path()).map_err(fail)?;
            let name = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
            let text = std::fs::read_to_string(dir.path().join(&name))
                .map_err(|e| fail(format!("failed to read dockerfile: {e}")))?;
            let p = dir.path().to_path_buf();
            _unpacked = Some(dir);
            (Some(p), text, name)
        } else {
            (
                None,
                String::from_utf8_lossy(&data).into_owned(),
                "Dockerfile".into(),
            )
        }
    } else {
        let dir = PathBuf::from(&a.context);
        if !dir.is_dir() {
            return Err(fail(format!(
                "unable to prepare context: path {:?} not found",
                a.context
            )));
        }
        let (text, name) = match a.file.as_deref() {
            Some("-") => (
                String::from_utf8_lossy(&read_stdin().map_err(fail)?).into_owned(),
                "Dockerfile".to_string(),
            ),
            Some(f) => {
                let p = if Path::new(f).is_absolute() || Path::new(f).exists() {
                    PathBuf::from(f)
                } else {
                    dir.join(f)
                };
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    fail(format!(
                        "failed to read dockerfile: open {}: {e}",
                        p.display()
                    ))
                })?;
                (text, f.to_string())
            }
            None => {
                let p = dir.join("Dockerfile");
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    fail(format!(
                        "failed to read dockerfile: open {}: {e}",
                        p.display()
                    ))
                })?;
                (text, "Dockerfile".to_string())
            }
        };
        (Some(dir), text, name)
    };
    let context = match context_dir {
        Some(d) => {
            let df_path = a
                .file
                .as_deref()
                .filter(|f| *f != "-")
                .map(|f| d.join(f))
                .unwrap_or_else(|| d.join("Dockerfile"));
            Some(Tree::context(d, Some(&df_path)).map_err(fail)?)
        }
        None => None,
    };
    let o = BuildOptions {
        dockerfile,
        dockerfile_name: name,
        context,
        tags: a.tag.clone(),
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        labels,
        network,
        secrets,
        cache_from: Vec::new(),
    };
    let io = BuildIo {
        outputs: each(&a.output, build::parse_output)?,
        cache_from: each(&a.cache_from, build::parse_cache_from)?,
        cache_to: each(&a.cache_to, build::parse_cache_to)?,
        tls_verify: a.tls_verify,
    };
    let engine = Engine::open(root, runroot).map_err(fail)?;
    let pull = PullOptions {
        tls_verify: a.tls_verify,
        ..Default::default()
    };
    let quiet = a.quiet || a.progress == "quiet";
    let live = match a.progress.as_str() {
        "tty" => true,
        "auto" => std::io::stderr().is_terminal(),
        _ => false,
    };
    let mut progress: Box<dyn Progress> = if quiet {
        Box::new(skiff_build::progress::Quiet)
    } else if live {
        Box::new(Tty::new())
    } else {
        Box::new(Plain::new())
    };
    let built = engine.build(o, pull, &io, progress.as_mut());
    drop(progress);
    let built = built.map_err(|e| {
        let mut msg = String::new();
        if let skiff_engine::Error::Build(skiff_build::BuildError::RunFailed { tail, .. }) = &e {
            if quiet && !tail.is_empty() {
                msg.push_str(&tail.join("\n"));
                msg.push('\n');
            }
        }
        msg.push_str(&format!("ERROR: {e}"));
        super::Failure { code: 1, msg }
    })?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, built.id.to_string()).map_err(fail)?;
    }
    if quiet {
        println!("{}", built.id);
    }
    Ok(())
}
