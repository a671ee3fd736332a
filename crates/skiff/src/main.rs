//! skiff: the container engine's command line. Parses arguments, calls one
//! library function per command, formats the result as Docker does.
//!
//! Invoked as `skiff-runtime` (or `skiff runtime ...`) it is the OCI runtime
//! with runc's command line.

mod format;
mod images;
mod template;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A container engine built from the Linux primitives"
)]
struct Cli {
    /// Where skiff keeps images and containers.
    #[arg(
        long,
        global = true,
        env = "SKIFF_ROOT",
        default_value = "/var/lib/skiff"
    )]
    root: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pull an image from a registry.
    Pull(images::PullArgs),
    /// Push an image to a registry.
    Push(images::PushArgs),
    /// Log in to a registry.
    Login(images::LoginArgs),
    /// Log out from a registry.
    Logout {
        /// Registry host (Docker Hub when omitted).
        server: Option<String>,
    },
    /// Import a root filesystem tarball as an image.
    Import(images::ImportArgs),
    /// Save images to a tar archive (docker-archive or oci-archive).
    Save(images::SaveArgs),
    /// Load images from a tar archive.
    Load(images::LoadArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Remove images.
    Rmi(images::RmiArgs),
    /// Image commands.
    #[command(subcommand)]
    Image(images::ImageCmd),
    /// The OCI runtime (runc's command line).
    #[command(disable_help_flag = true)]
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("skiff")
        .to_string();
    if invoked_as == "skiff-runtime" || invoked_as == "runc" {
        std::process::exit(skiff_runtime::runc_cli::main(argv));
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                // Docker's exit code for a command line it cannot parse.
                _ => 125,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.cmd {
        Cmd::Runtime { args } => {
            let mut a = vec!["skiff-runtime".to_string()];
            a.extend(args);
            std::process::exit(skiff_runtime::runc_cli::main(a));
        }
        Cmd::Pull(a) => images::pull(&cli.root, a),
        Cmd::Push(a) => images::push(&cli.root, a),
        Cmd::Login(a) => images::login(a),
        Cmd::Logout { server } => images::logout(server),
        Cmd::Import(a) => images::import(&cli.root, a),
        Cmd::Save(a) => images::save(&cli.root, a),
        Cmd::Load(a) => images::load(&cli.root, a),
        Cmd::Images(a) => images::list(&cli.root, a),
        Cmd::Tag { source, target } => images::tag(&cli.root, &source, &target),
        Cmd::Rmi(a) => images::rmi(&cli.root, a),
        Cmd::Image(c) => images::image_cmd(&cli.root, c),
    };
    if let Err(e) = result {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
