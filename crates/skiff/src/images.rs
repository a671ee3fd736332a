//! `import`, `images`, `tag`, `rmi`, `image inspect`: argument parsing and
//! output; the work is `skiff_image::service::Images`.

use crate::format::{ago, human_size, table};
use clap::{Args, Subcommand};
use skiff_image::import::ImportOptions;
use skiff_image::manifest::ContainerConfig;
use skiff_image::reference::Reference;
use skiff_image::service::{Images, Removed};
use std::path::Path;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

#[derive(Args)]
pub struct ImportArgs {
    /// Tarball of a root filesystem, or - for standard input.
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

impl PullArgs {
    /// `pull IMAGE` with the defaults (as `run` pulls a missing image).
    pub fn of(image: &str) -> PullArgs {
        PullArgs {
            quiet: false,
            platform: None,
            tls_verify: true,
            image: image.to_string(),
        }
    }
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
}

fn parse_changes(changes: &[String]) -> std::result::Result<ContainerConfig, String> {
    let mut c = ContainerConfig::default();
    for ch in changes {
        let (inst, rest) = ch.trim().split_once(' ').unwrap_or((ch.trim(), ""));
        let rest = rest.trim();
        let list = || -> std::result::Result<Vec<String>, String> {
            if rest.starts_with('[') {
                serde_json::from_str(rest).map_err(|e| format!("--change {ch:?}: {e}"))
            } else {
                Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
            }
        };
        match inst.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(list()?),
            "ENTRYPOINT" => c.entrypoint = Some(list()?),
            "ENV" => c.env.push(rest.replacen(' ', "=", 1)),
            "WORKDIR" => c.working_dir = Some(rest.into()),
            "USER" => c.user = Some(rest.into()),
            other => return Err(format!("--change: {other} is not supported")),
        }
    }
    Ok(c)
}

pub fn import(root: &Path, a: ImportArgs) -> Result {
    let config = parse_changes(&a.change)?;
    let opts = ImportOptions {
        config,
        created: Some(skiff_runtime::state::now_rfc3339()),
        comment: a.message,
    };
    let mut imgs = Images::open(root)?;
    let id = if a.file == "-" {
        imgs.import(std::io::stdin().lock(), a.reference.as_deref(), &opts)?
    } else {
        let f = std::fs::File::open(&a.file).map_err(|e| format!("open {}: {e}", a.file))?;
        imgs.import(f, a.reference.as_deref(), &opts)?
    };
    println!("{id}");
    Ok(())
}

pub fn list(root: &Path, a: ImagesArgs) -> Result {
    let imgs = Images::open(root)?;
    let filter = a.reference.as_deref().map(Reference::parse).transpose()?;
    let mut header = vec!["REPOSITORY", "TAG"];
    if a.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let mut ids = Vec::new();
    let mut formatted: Vec<crate::format::Fields> = Vec::new();
    for info in imgs.list()? {
        let id = if a.no_trunc {
            info.record.id.to_string()
        } else {
            info.record.id.hex()[..12].to_string()
        };
        let mut names: Vec<(String, String)> = info
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
        if names.is_empty() {
            if filter.is_some() {
                continue;
            }
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
                    ("CreatedAt", "CREATED AT", info.record.created.clone()),
                    ("CreatedSince", "CREATED", ago(&info.record.created)),
                    ("Digest", "DIGEST", info.record.manifest.to_string()),
                    ("ID", "IMAGE ID", id.clone()),
                    ("Repository", "REPOSITORY", repo.clone()),
                    ("SharedSize", "SHARED SIZE", "N/A".into()),
                    ("Size", "SIZE", human_size(info.record.size)),
                    ("Tag", "TAG", tag.clone()),
                    ("UniqueSize", "UNIQUE SIZE", "N/A".into()),
                    ("VirtualSize", "VIRTUAL SIZE", human_size(info.record.size)),
                ]);
                continue;
            }
            let mut row = vec![repo, tag];
            if a.digests {
                row.push(info.record.manifest.to_string());
            }
            row.extend([
                id.clone(),
                ago(&info.record.created),
                human_size(info.record.size),
            ]);
            rows.push(row);
        }
    }
    if a.quiet {
        for id in ids {
            println!("{id}");
        }
    } else if let Some(f) = &a.format {
        print!("{}", crate::format::render_rows(f, &formatted)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}

pub fn tag(root: &Path, source: &str, target: &str) -> Result {
    Images::open(root)?.tag(source, target)?;
    Ok(())
}

/// Image IDs that containers use, with one such container's ID and
/// whether it runs.
fn images_in_use(root: &Path) -> std::collections::HashMap<String, (String, bool)> {
    let mut m = std::collections::HashMap::new();
    if !root.join("containers.db").exists() {
        return m;
    }
    let Ok(store) = skiff_engine::store::Store::open(&root.join("containers.db")) else {
        return m;
    };
    for c in store.list().unwrap_or_default() {
        let running = matches!(
            c.state.status,
            skiff_engine::model::Status::Running | skiff_engine::model::Status::Paused
        );
        let e = m
            .entry(c.image_id.clone())
            .or_insert((c.id.clone(), running));
        if running {
            *e = (c.id.clone(), true);
        }
    }
    m
}

pub fn rmi(root: &Path, a: RmiArgs) -> Result {
    let mut imgs = Images::open(root)?;
    let mut failed = None;
    let used = images_in_use(root);
    for what in &a.images {
        // An image a container uses keeps its ID. By name: a second name
        // just goes; the last one only with -f. By ID: never while the
        // container runs, with -f only untagged otherwise.
        if let Ok(id) = imgs.resolve(what) {
            if let Some((cid, running)) = used.get(&id.to_string()) {
                let names = imgs.catalog.names_of(&id)?;
                let by_id = !Reference::parse(what)
                    .map(|r| names.contains(&r.to_string()))
                    .unwrap_or(false);
                let short = &id.hex()[..12];
                let cshort = &cid[..12];
                if by_id || names.len() <= 1 {
                    let msg = match (a.force, *running, by_id) {
                        (true, true, _) => format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container {cshort}"),
                        (false, _, true) => format!("conflict: unable to delete {short} (must be forced) - image is being used by {} container {cshort}", if *running { "running" } else { "stopped" }),
                        (false, _, false) => format!("conflict: unable to remove repository reference \"{what}\" (must force) - container {cshort} is using its referenced image {short}"),
                        (true, false, _) => {
                            for n in names {
                                imgs.catalog.untag(&n)?;
                                println!("Untagged: {}", skiff_image::service::familiar(&n));
                            }
                            continue;
                        }
                    };
                    eprintln!("Error response from daemon: {msg}");
                    failed = Some(());
                    continue;
                }
            }
        }
        match imgs.remove(what, a.force) {
            Ok(out) => {
                for r in out {
                    match r {
                        Removed::Untagged(n) => println!("Untagged: {n}"),
                        Removed::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = Some(());
            }
        }
    }
    match failed {
        // Docker goes on with the other images and fails at the end.
        Some(_) => std::process::exit(1),
        None => Ok(()),
    }
}

pub fn image_cmd(root: &Path, c: ImageCmd) -> Result {
    match c {
        ImageCmd::Inspect { format, images } => {
            let imgs = Images::open(root)?;
            let mut out = Vec::new();
            let mut missing = Vec::new();
            for i in &images {
                match imgs.inspect(i) {
                    Ok(v) => out.push(v),
                    Err(skiff_image::service::ImagesError::NoSuchImage(n)) => missing.push(n),
                    Err(e) => return Err(e.into()),
                }
            }
            match format {
                Some(f) => {
                    for v in &out {
                        println!("{}", crate::template::render(&f, v)?);
                    }
                }
                None => println!("{}", crate::containers::json_4(&out)),
            }
            if !missing.is_empty() {
                for m in missing {
                    eprintln!("Error: No such image: {m}");
                }
                std::process::exit(1);
            }
            Ok(())
        }
        ImageCmd::Ls(a) => list(root, a),
        ImageCmd::Rm(a) => rmi(root, a),
        ImageCmd::Import(a) => import(root, a),
        ImageCmd::Pull(a) => pull(root, a),
        ImageCmd::Push(a) => push(root, a),
        ImageCmd::Tag { source, target } => tag(root, &source, &target),
        ImageCmd::History {
            no_trunc,
            quiet,
            image,
        } => history(root, &image, no_trunc, quiet),
        ImageCmd::Prune { all, force: _ } => {
            let mut imgs = Images::open(root)?;
            let keep = images_in_use(root)
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            let (removed, reclaimed) = imgs.prune_keeping(all, &keep)?;
            if !removed.is_empty() {
                println!("Deleted Images:");
                for id in &removed {
                    println!("deleted: {id}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size(reclaimed));
            Ok(())
        }
    }
}

fn history(root: &Path, image: &str, no_trunc: bool, quiet: bool) -> Result {
    let imgs = Images::open(root)?;
    let (id, lines) = imgs.history(image)?;
    let short = if no_trunc {
        id.to_string()
    } else {
        id.hex()[..12].to_string()
    };
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

pub fn pull(root: &Path, a: PullArgs) -> Result {
    use skiff_image::pull::{PullEvent, PullOptions};
    use std::io::{IsTerminal, Write};
    use std::sync::Arc;
    let reference = Reference::parse(&a.image)?;
    let client = registry_client(&reference, a.tls_verify)?;
    let quiet = a.quiet;
    let shown = reference.familiar_string();
    let bars = (!quiet && std::io::stdout().is_terminal()).then(TermBars::new);
    let progress = move |e: PullEvent| {
        if quiet {
            return;
        }
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        if let Some(b) = &bars {
            match &e {
                PullEvent::LayerWaiting(d) => return b.start(&short(d), "Downloading"),
                PullEvent::LayerBytes {
                    digest,
                    done,
                    total,
                } => return b.bytes(&short(digest), *done, *total),
                PullEvent::LayerDone(d) => return b.finish(&short(d), "Pull complete"),
                PullEvent::LayerExists(d) => return b.finish(&short(d), "Already exists"),
                _ => {}
            }
        }
        let line = match e {
            PullEvent::Start { tag, repository } => format!("{tag}: Pulling from {repository}"),
            PullEvent::LayerExists(d) => format!("{}: Already exists", short(&d)),
            PullEvent::LayerWaiting(d) => format!("{}: Pulling fs layer", short(&d)),
            PullEvent::LayerBytes { .. } => return,
            PullEvent::LayerDone(d) => format!("{}: Pull complete", short(&d)),
            PullEvent::Digest(d) => format!("Digest: {d}"),
            PullEvent::Finished { downloaded: true } => {
                format!("Status: Downloaded newer image for {shown}")
            }
            PullEvent::Finished { downloaded: false } => {
                format!("Status: Image is up to date for {shown}")
            }
        };
        match &bars {
            Some(b) => b.println(&line),
            None => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    };
    let mut opts = PullOptions {
        progress: Arc::new(progress),
        ..Default::default()
    };
    if let Some(p) = &a.platform {
        opts.platform = p.parse()?;
    }
    let mut imgs = Images::open(root)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(skiff_image::pull::pull(
        &mut imgs, &client, &reference, &opts,
    ))?;
    let full = match (&reference.tag, &reference.digest) {
        (None, None) => reference.with_tag("latest")?.to_string(),
        _ => reference.to_string(),
    };
    println!("{full}");
    Ok(())
}

fn registry_client(
    r: &Reference,
    tls_verify: bool,
) -> std::result::Result<skiff_image::registry::Client, Box<dyn std::error::Error>> {
    client_for(r.api_host(), tls_verify, None)
}

/// A client for `host`, with credentials from the auth files (or `explicit`).
fn client_for(
    host: &str,
    tls_verify: bool,
    explicit: Option<skiff_image::registry::Credentials>,
) -> std::result::Result<skiff_image::registry::Client, Box<dyn std::error::Error>> {
    let mut config = skiff_image::registry::Config::default();
    if !tls_verify || insecure_registries().iter().any(|r| r == host) {
        config = config.insecure_registry(host);
    }
    let file = skiff_image::auth::default_path();
    config = match explicit {
        Some(c) => config.with_credentials(move |_: &str| Some(c.clone())),
        None => config.with_credentials(move |h: &str| skiff_image::auth::lookup(&file, h)),
    };
    Ok(skiff_image::registry::Client::new(config)?)
}

/// The registry a `login`/`logout` argument names, and its API host.
fn login_server(server: Option<String>) -> (String, String) {
    let name = server
        .unwrap_or_else(|| "docker.io".into())
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .trim_end_matches("/v1")
        .to_string();
    let api = match name.as_str() {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        other => other.to_string(),
    };
    (name, api)
}

pub fn login(a: LoginArgs) -> Result {
    let (name, api) = login_server(a.server);
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
    let creds = skiff_image::registry::Credentials::basic(user.clone(), password.clone());
    let client = client_for(&api, a.tls_verify, Some(creds))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(skiff_image::auth::check_login(&client, &api))
        .map_err(|e| format!("login to {name} failed: {e}"))?;
    skiff_image::auth::save(&skiff_image::auth::default_path(), &api, &user, &password)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(server: Option<String>) -> Result {
    let (name, api) = login_server(server);
    if skiff_image::auth::remove(&skiff_image::auth::default_path(), &api)? {
        println!("Removing login credentials for {name}");
    } else {
        println!("Not logged in to {name}");
    }
    Ok(())
}

pub fn push(root: &Path, a: PushArgs) -> Result {
    use skiff_image::push::PushEvent;
    use std::io::{IsTerminal, Write};
    use std::sync::Arc;
    let target = Reference::parse(&a.image)?;
    let client = registry_client(&target, a.tls_verify)?;
    let quiet = a.quiet;
    let bars = (!quiet && std::io::stdout().is_terminal()).then(TermBars::new);
    let progress = Arc::new(move |e: PushEvent| {
        if quiet {
            return;
        }
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        if let Some(b) = &bars {
            match &e {
                PushEvent::BlobBytes {
                    digest,
                    done,
                    total,
                } => {
                    b.start(&short(digest), "Pushing");
                    return b.bytes(&short(digest), *done, *total);
                }
                PushEvent::BlobPushed(d) => return b.finish(&short(d), "Pushed"),
                PushEvent::BlobExists(d) => return b.finish(&short(d), "Layer already exists"),
                PushEvent::BlobMounted { digest, from } => {
                    return b.finish(&short(digest), &format!("Mounted from {from}"))
                }
                _ => {}
            }
        }
        let line = match e {
            PushEvent::Start { repository } => {
                format!("The push refers to repository [{repository}]")
            }
            PushEvent::BlobExists(d) => format!("{}: Layer already exists", short(&d)),
            PushEvent::BlobMounted { digest, from } => {
                format!("{}: Mounted from {from}", short(&digest))
            }
            PushEvent::BlobBytes { .. } => return,
            PushEvent::BlobPushed(d) => format!("{}: Pushed", short(&d)),
            PushEvent::Done { tag, digest, size } => {
                format!("{tag}: digest: {digest} size: {size}")
            }
        };
        match &bars {
            Some(b) => b.println(&line),
            None => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    });
    let imgs = Images::open(root)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let digest = rt.block_on(skiff_image::push::push(
        &imgs,
        &client,
        &target.to_string(),
        &target,
        progress,
    ))?;
    if quiet {
        println!("{digest}");
    }
    Ok(())
}

pub fn save(root: &Path, a: SaveArgs) -> Result {
    use std::io::IsTerminal;
    let format: skiff_image::archive::Format = a.format.parse()?;
    let imgs = Images::open(root)?;
    match &a.output {
        Some(path) => {
            // Written next to the target and renamed: no half archive under its name.
            let tmp = format!("{path}.skiff-tmp");
            let f = std::fs::File::create(&tmp).map_err(|e| format!("create {tmp}: {e}"))?;
            let mut w = std::io::BufWriter::new(f);
            let r = skiff_image::archive::save(&imgs, &a.images, format, &mut w);
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
            skiff_image::archive::save(&imgs, &a.images, format, std::io::BufWriter::new(out))?;
        }
    }
    Ok(())
}

pub fn load(root: &Path, a: LoadArgs) -> Result {
    let mut imgs = Images::open(root)?;
    let loaded = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| format!("open {p}: {e}"))?;
            skiff_image::archive::load(&mut imgs, std::io::BufReader::new(f))?
        }
        None => skiff_image::archive::load(&mut imgs, std::io::stdin().lock())?,
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

/// Per-layer progress bars on a terminal (bytes and speed), as Docker draws them.
struct TermBars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl TermBars {
    fn new() -> TermBars {
        TermBars {
            multi: indicatif::MultiProgress::new(),
            bars: Default::default(),
        }
    }

    fn bar(&self, id: &str) -> indicatif::ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(indicatif::ProgressBar::new(0));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_prefix(id.to_string());
                b
            })
            .clone()
    }

    fn start(&self, id: &str, msg: &str) {
        self.bar(id).set_message(msg.to_string());
    }

    fn bytes(&self, id: &str, done: u64, total: u64) {
        let b = self.bar(id);
        b.set_length(total);
        b.set_position(done);
    }

    fn finish(&self, id: &str, msg: &str) {
        let b = self.bar(id);
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.finish_with_message(msg.to_string());
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}

/// skiff's config file: `$SKIFF_CONFIG`, else /etc/skiff/config.json.
fn config_path() -> std::path::PathBuf {
    std::env::var_os("SKIFF_CONFIG")
        .map(Into::into)
        .unwrap_or_else(|| "/etc/skiff/config.json".into())
}

/// Registries reached over plain HTTP, from the config file's
/// `"insecure-registries"` list (the key Docker's daemon.json uses).
fn insecure_registries() -> Vec<String> {
    parse_insecure(&std::fs::read(config_path()).unwrap_or_default())
}

fn parse_insecure(data: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
    v.get("insecure-registries")
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str())
                .map(|s| {
                    s.trim_start_matches("http://")
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn insecure_registries_from_config() {
        let v = super::parse_insecure(
            br#"{"insecure-registries": ["myreg.internal:5000", "http://other:80/"]}"#,
        );
        assert_eq!(v, ["myreg.internal:5000", "other:80"]);
        assert!(super::parse_insecure(b"not json").is_empty());
    }

    #[test]
    fn login_server_names() {
        assert_eq!(
            super::login_server(None),
            ("docker.io".to_string(), "registry-1.docker.io".to_string())
        );
        assert_eq!(
            super::login_server(Some("https://localhost:5000/".into())).1,
            "localhost:5000"
        );
    }
}
