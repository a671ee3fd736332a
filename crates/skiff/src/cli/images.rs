//! Image commands (`pull`, `push`, `login`, `images`, `rmi`, `import`,
//! `save`, `load`, `history`, `image inspect|prune|tag`): argument parsing
//! and output; the work is the engine's.

use super::progress::pull_progress;
use crate::output::format::{ago, human_size, table};
use clap::{Args, Subcommand};
use skiff_engine::images::{ImportOptions, PullOptions};
use skiff_engine::Engine;
use skiff_image::service::Removed;
use std::path::Path;

fn engine(root: &Path, runroot: &Path) -> std::result::Result<Engine, Box<dyn std::error::Error>> {
    Ok(Engine::open(root, runroot)?)
}

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

#[derive(Args)]
pub struct ImportArgs {
    /// Tarball of a root filesystem (plain or compressed), an http(s) URL of one, or - for standard input.
    file: String,
    /// Name for the image (REPOSITORY[:TAG]).
    reference: Option<String>,
    /// Commit message.
    #[arg(short, long)]
    message: Option<String>,
    /// Dockerfile-like change: only `CMD ["..."]`, `ENTRYPOINT [...]`, `ENV K=V`,
    /// `WORKDIR /d` and `USER u` are understood.
    #[arg(short, long)]
    change: Vec<String>,
}

#[derive(Args)]
pub struct PullArgs {
    /// Print only the image name.
    #[arg(short, long)]
    quiet: bool,
    /// os/arch[/variant] to pull from a multi-platform image.
    #[arg(long)]
    platform: Option<String>,
    /// Use plain HTTP for this registry (it is always used for localhost and
    /// 127.0.0.0/8, as Docker does).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// NAME[:TAG|@DIGEST]
    image: String,
}

#[derive(Args)]
pub struct PushArgs {
    /// Print only the pushed digest.
    #[arg(short, long)]
    quiet: bool,
    /// Use plain HTTP for this registry (always used for localhost and 127.0.0.0/8).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// NAME[:TAG] of a local image, pushed to the registry its name names.
    image: String,
}

#[derive(Args)]
pub struct LoginArgs {
    #[arg(short, long)]
    username: Option<String>,
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Use plain HTTP for this registry (always used for localhost and 127.0.0.0/8).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Registry host (Docker Hub when omitted).
    server: Option<String>,
}

#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file instead of standard output.
    #[arg(short, long)]
    output: Option<String>,
    /// docker-archive (default) or oci-archive.
    #[arg(long, default_value = "docker-archive")]
    format: String,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args)]
pub struct LoadArgs {
    /// Read from a file instead of standard input.
    #[arg(short, long)]
    input: Option<String>,
    /// Print nothing.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct ImagesArgs {
    /// Only show image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Show all images (no intermediate images exist yet; accepted for Docker compatibility).
    #[arg(short, long)]
    all: bool,
    /// Go-template output as Docker: `table {{.Repository}}\t{{.Tag}}`, `json`, ...
    #[arg(long)]
    format: Option<String>,
    /// Only images matching REPOSITORY[:TAG].
    reference: Option<String>,
}

#[derive(Args)]
pub struct RmiArgs {
    /// Remove an image with several names, by ID.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ImageCmd {
    /// Show an image's details as JSON.
    Inspect {
        /// Format the output using a Go template (one line per image).
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// List images.
    Ls(ImagesArgs),
    /// Remove images.
    Rm(RmiArgs),
    /// Import a root filesystem tarball as an image.
    Import(ImportArgs),
    /// Pull an image from a registry.
    Pull(PullArgs),
    /// Push an image to a registry.
    Push(PushArgs),
    /// Show how an image was made.
    History {
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format the output using a Go template (one line per row).
        #[arg(long)]
        format: Option<String>,
        image: String,
    },
    /// Remove unused images and the blobs and layers nothing uses.
    Prune {
        /// Remove all images without a container, not only unnamed ones.
        #[arg(short, long)]
        all: bool,
        /// Do not ask for confirmation (skiff never asks).
        #[arg(short, long)]
        force: bool,
    },
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Build an image from a Dockerfile.
    Build(Box<super::build::BuildArgs>),
}

pub fn import(root: &Path, runroot: &Path, a: ImportArgs) -> Result {
    let opts = ImportOptions {
        config: skiff_image::import::config_from_changes(&a.change)?,
        created: None,
        comment: a.message,
    };
    let e = engine(root, runroot)?;
    let id = if a.file.starts_with("http://") || a.file.starts_with("https://") {
        e.image_import_url(&a.file, a.reference.as_deref(), &opts)?
    } else if a.file == "-" {
        e.image_import(std::io::stdin().lock(), a.reference.as_deref(), &opts)?
    } else {
        let f = std::fs::File::open(&a.file).map_err(|e| format!("open {}: {e}", a.file))?;
        e.image_import(f, a.reference.as_deref(), &opts)?
    };
    println!("{id}");
    Ok(())
}

pub fn list(root: &Path, runroot: &Path, a: ImagesArgs) -> Result {
    let e = engine(root, runroot)?;
    let mut header = vec!["REPOSITORY", "TAG"];
    if a.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let mut ids = Vec::new();
    let mut formatted: Vec<crate::output::format::Fields> = Vec::new();
    for img in e.image_list(a.reference.as_deref())? {
        let id = if a.no_trunc {
            img.id.to_string()
        } else {
            img.id.hex()[..12].to_string()
        };
        let mut names = img.repo_tags.clone();
        if names.is_empty() {
            names.push(("<none>".into(), "<none>".into()));
        }
        if a.quiet {
            if !ids.contains(&id) {
                ids.push(id);
            }
            continue;
        }
        for (repo, tag) in names {
            if a.format.is_some() {
                formatted.push(vec![
                    ("Containers", "CONTAINERS", "N/A".into()),
                    ("CreatedAt", "CREATED AT", img.created.clone()),
                    ("CreatedSince", "CREATED", ago(&img.created)),
                    ("Digest", "DIGEST", img.digest.to_string()),
                    ("ID", "IMAGE ID", id.clone()),
                    ("Repository", "REPOSITORY", repo.clone()),
                    ("SharedSize", "SHARED SIZE", "N/A".into()),
                    ("Size", "SIZE", human_size(img.size)),
                    ("Tag", "TAG", tag.clone()),
                    ("UniqueSize", "UNIQUE SIZE", "N/A".into()),
                    ("VirtualSize", "VIRTUAL SIZE", human_size(img.size)),
                ]);
                continue;
            }
            let mut row = vec![repo, tag];
            if a.digests {
                row.push(img.digest.to_string());
            }
            row.extend([id.clone(), ago(&img.created), human_size(img.size)]);
            rows.push(row);
        }
    }
    if a.quiet {
        for id in ids {
            println!("{id}");
        }
    } else if let Some(f) = &a.format {
        print!("{}", crate::output::format::render_rows(f, &formatted)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}

pub fn tag(root: &Path, runroot: &Path, source: &str, target: &str) -> Result {
    engine(root, runroot)?.image_tag(source, target)?;
    Ok(())
}

pub fn rmi(root: &Path, runroot: &Path, a: RmiArgs) -> Result {
    let e = engine(root, runroot)?;
    let mut failed = false;
    for what in &a.images {
        match e.image_remove(what, a.force) {
            Ok(out) => {
                for r in out {
                    match r {
                        Removed::Untagged(n) => println!("Untagged: {n}"),
                        Removed::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                failed = true;
            }
        }
    }
    if failed {
        // Docker goes on with the other images and fails at the end.
        std::process::exit(1);
    }
    Ok(())
}

pub fn image_cmd(root: &Path, runroot: &Path, c: ImageCmd) -> Result {
    match c {
        ImageCmd::Inspect { format, images } => {
            let e = engine(root, runroot)?;
            let mut out = Vec::new();
            let mut missing = Vec::new();
            for i in &images {
                match e.image_inspect(i) {
                    Ok(v) => out.push(v),
                    Err(err) if err.kind() == skiff_engine::ErrorKind::NotFound => {
                        missing.push(i.clone())
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            match format {
                Some(f) => {
                    for v in &out {
                        println!("{}", crate::output::template::render(&f, v)?);
                    }
                }
                None => println!("{}", super::json_4(&out)),
            }
            if !missing.is_empty() {
                for m in missing {
                    eprintln!("Error: No such image: {m}");
                }
                std::process::exit(1);
            }
            Ok(())
        }
        ImageCmd::Ls(a) => list(root, runroot, a),
        ImageCmd::Rm(a) => rmi(root, runroot, a),
        ImageCmd::Import(a) => import(root, runroot, a),
        ImageCmd::Pull(a) => pull(root, runroot, a),
        ImageCmd::Push(a) => push(root, runroot, a),
        ImageCmd::Tag { source, target } => tag(root, runroot, &source, &target),
        ImageCmd::Build(a) => match super::build::build(root, runroot, *a) {
            Ok(()) => Ok(()),
            Err(f) => {
                eprintln!("{}", f.msg);
                std::process::exit(f.code);
            }
        },
        ImageCmd::History {
            no_trunc,
            quiet,
            format,
            image,
        } => history(root, runroot, &image, no_trunc, quiet, format.as_deref()),
        ImageCmd::Prune { all, force: _ } => {
            let pruned = engine(root, runroot)?.image_prune(all)?;
            let deleted: Vec<String> = pruned
                .removed
                .iter()
                .map(|id| format!("deleted: {id}"))
                .collect();
            super::print_deleted("Images", &deleted);
            println!("Total reclaimed space: {}", human_size(pruned.bytes));
            Ok(())
        }
    }
}

fn history(
    root: &Path,
    runroot: &Path,
    image: &str,
    no_trunc: bool,
    quiet: bool,
    format: Option<&str>,
) -> Result {
    let (id, lines) = engine(root, runroot)?.image_history(image)?;
    let short = if no_trunc {
        id.to_string()
    } else {
        id.hex()[..12].to_string()
    };
    if let Some(f) = format {
        // One line per row, with Docker's field names.
        for (i, l) in lines.iter().enumerate() {
            let v = serde_json::json!({
                "ID": if i == 0 { short.clone() } else { "<missing>".into() },
                "CreatedSince": ago(&l.created),
                "CreatedAt": l.created,
                "CreatedBy": l.created_by,
                "Size": human_size(l.size),
                "Comment": l.comment,
            });
            println!("{}", crate::output::template::render(f, &v)?);
        }
        return Ok(());
    }
    if quiet {
        println!("{short}");
        for _ in 1..lines.len() {
            println!("<missing>");
        }
        return Ok(());
    }
    let mut rows = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    for (i, l) in lines.iter().enumerate() {
        let by = if no_trunc || l.created_by.chars().count() <= 45 {
            l.created_by.clone()
        } else {
            format!("{}…", l.created_by.chars().take(44).collect::<String>())
        };
        rows.push(vec![
            if i == 0 {
                short.clone()
            } else {
                "<missing>".into()
            },
            ago(&l.created),
            by,
            human_size(l.size),
            l.comment.clone(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

pub fn pull(root: &Path, runroot: &Path, a: PullArgs) -> Result {
    pull_with(&engine(root, runroot)?, a)
}

/// `pull` on an open engine.
fn pull_with(e: &Engine, a: PullArgs) -> Result {
    let reference = skiff_image::reference::Reference::parse(&a.image)?;
    let opts = PullOptions {
        progress: pull_progress(a.quiet, false, reference.familiar_string()),
        platform: a.platform.clone(),
        tls_verify: a.tls_verify,
        credentials: None,
    };
    let (full, _) = e.pull(&a.image, &opts)?;
    println!("{full}");
    Ok(())
}

pub fn login(root: &Path, runroot: &Path, a: LoginArgs) -> Result {
    let user = match a.username {
        Some(u) => u,
        None => return Err("login: --username is required (no interactive prompt yet)".into()),
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        a.password
            .ok_or("login: --password or --password-stdin is required")?
    };
    engine(root, runroot)?.login(a.server.as_deref(), &user, &password, a.tls_verify)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(root: &Path, runroot: &Path, server: Option<String>) -> Result {
    let (name, had) = engine(root, runroot)?.logout(server.as_deref())?;
    if had {
        println!("Removing login credentials for {name}");
    } else {
        println!("Not logged in to {name}");
    }
    Ok(())
}

pub fn push(root: &Path, runroot: &Path, a: PushArgs) -> Result {
    let progress = super::progress::push_progress(a.quiet);
    let digest = engine(root, runroot)?.push(&a.image, a.tls_verify, None, progress)?;
    if a.quiet {
        println!("{digest}");
    }
    Ok(())
}

pub fn save(root: &Path, runroot: &Path, a: SaveArgs) -> Result {
    use std::io::IsTerminal;
    let format: skiff_engine::images::ArchiveFormat = a.format.parse()?;
    let e = engine(root, runroot)?;
    match &a.output {
        Some(path) => {
            // Written next to the target and renamed: no half archive under its name.
            let tmp = format!("{path}.skiff-tmp");
            let f = std::fs::File::create(&tmp).map_err(|e| format!("create {tmp}: {e}"))?;
            let mut w = std::io::BufWriter::new(f);
            let r = e.image_save(&a.images, format, &mut w);
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            drop(w);
            std::fs::rename(&tmp, path).map_err(|e| format!("rename to {path}: {e}"))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                );
            }
            let out = std::io::stdout().lock();
            e.image_save(&a.images, format, std::io::BufWriter::new(out))?;
        }
    }
    Ok(())
}

pub fn load(root: &Path, runroot: &Path, a: LoadArgs) -> Result {
    let e = engine(root, runroot)?;
    let loaded = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| format!("open {p}: {e}"))?;
            e.image_load(std::io::BufReader::new(f))?
        }
        None => e.image_load(std::io::stdin().lock())?,
    };
    if !a.quiet {
        for (names, id) in loaded {
            if names.is_empty() {
                println!("Loaded image ID: {id}");
            }
            for n in names {
                println!("Loaded image: {}", skiff_image::service::familiar(&n));
            }
        }
    }
    Ok(())
}
