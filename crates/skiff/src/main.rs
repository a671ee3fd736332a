//! skiff: the container engine's command line. Parses arguments, calls one
//! library function per command, formats the result as Docker does.
//!
//! Invoked as `skiff-runtime` (or `skiff runtime ...`) it is the OCI runtime
//! with runc's command line.

mod cli;
mod output;

use clap::{Parser, Subcommand};
use cli::{
    attach, build, builder, container, create, events, exec, fs, images, inspect, kube, lifecycle,
    logs, networks, ps, run, serve, stats, system, update, volumes,
};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    // A flag given twice takes the last value, as Docker's flags do.
    args_override_self = true,
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
    /// Where skiff keeps the state of running containers (a tmpfs).
    #[arg(
        long,
        global = true,
        env = "SKIFF_RUNROOT",
        default_value = "/run/skiff"
    )]
    runroot: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Each command's flags are built only when it is the one run (`defer`):
/// building all of them took half a millisecond of every command's start.
/// The groups of commands (`container`, `network`, `kube`, ...) defer theirs
/// too: a deferred group is still built whole when the top level is (another
/// 0.4-0.5 ms of `run`'s start, before they did).
#[derive(Subcommand)]
#[command(defer = true)]
enum Cmd {
    /// Create and run a new container from an image.
    Run(run::RunArgs),
    /// Create a new container.
    Create(create::CreateArgs),
    /// Display system-wide information.
    Info(system::InfoArgs),
    /// Start one or more stopped containers.
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers.
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers.
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers.
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers.
    Rm(lifecycle::RmArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Block until containers stop, then print their exit codes.
    Wait(lifecycle::WaitArgs),
    /// Return low-level information on containers.
    Inspect(inspect::InspectArgs),
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCmd),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCmd),
    /// List port mappings or a specific mapping for the container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO]
        port: Option<String>,
    },
    /// Run a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach to a running container's output (and input, with a tty).
    Attach(attach::AttachArgs),
    /// Pause all processes within containers.
    Pause(lifecycle::NamesArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Unpause all processes within containers.
    Unpause(lifecycle::NamesArgs),
    /// Display the running processes of a container.
    Top(stats::TopArgs),
    /// Display a live stream of containers' resource usage.
    Stats(stats::StatsArgs),
    /// Get real time events.
    Events(events::EventsArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(fs::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(fs::CommitArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(fs::CpArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(container::ContainerCmd),
    /// Manage skiff.
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Manage builds.
    #[command(subcommand)]
    Builder(builder::BuilderCmd),
    /// Pull an image from a registry.
    Pull(images::PullArgs),
    /// Push an image to a registry.
    Push(images::PushArgs),
    /// Log in to a registry.
    Login(images::LoginArgs),
    /// Serve the Docker Engine API on a socket.
    Serve(serve::ServeArgs),
    /// Kubernetes objects on this machine, with kubectl's commands.
    #[command(subcommand)]
    Kube(kube::KubeCmd),
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
    /// Show the history of an image.
    History {
        /// Don't truncate output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format the output using a Go template (one line per row).
        #[arg(long)]
        format: Option<String>,
        image: String,
    },
    /// The OCI runtime (runc's command line).
    #[command(disable_help_flag = true)]
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() {
    skiff_runtime::log::timing("cli: main");
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
    // `--init`: this binary is bind-mounted into the container as its init.
    if invoked_as == "docker-init" {
        std::process::exit(skiff_engine::init::main(&argv[1..]));
    }
    // A container's supervisor: before anything else is set up.
    if argv.get(1).map(String::as_str) == Some("__supervise") {
        std::process::exit(skiff_engine::supervisor::main(&argv[2..]));
    }
    if argv.get(1).map(String::as_str) == Some("__run-bundle") {
        std::process::exit(skiff_engine::build::run_bundle_main(&argv[2..]));
    }
    let argv = cli::kube::hoist_global_flags(argv, <Cli as clap::CommandFactory>::command);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let (text, code) = cli::errors::docker_style::<Cli>(&e, &argv);
            if code == 0 {
                let _ = e.print();
            } else {
                eprint!("{text}");
            }
            std::process::exit(code);
        }
    };
    let (root, runroot) = (cli.root.clone(), cli.runroot.clone());
    let result = match cli.cmd {
        Cmd::Run(a) => finish(run::run(&root, &runroot, a)),
        Cmd::Create(a) => finish(create::create(&root, &runroot, a)),
        Cmd::Start(a) => finish(lifecycle::start(&root, &runroot, a)),
        Cmd::Stop(a) => finish(lifecycle::stop(&root, &runroot, a)),
        Cmd::Restart(a) => finish(lifecycle::restart(&root, &runroot, a)),
        Cmd::Kill(a) => finish(lifecycle::kill(&root, &runroot, a)),
        Cmd::Rm(a) => finish(lifecycle::rm(&root, &runroot, a)),
        Cmd::Ps(a) => finish(ps::ps(&root, &runroot, a)),
        Cmd::Logs(a) => finish(logs::logs(&root, &runroot, a)),
        Cmd::Wait(a) => finish(lifecycle::wait(&root, &runroot, a)),
        Cmd::Inspect(a) => finish(inspect::inspect(&root, &runroot, a)),
        Cmd::Rename {
            container,
            new_name,
        } => finish(lifecycle::rename(&root, &runroot, &container, &new_name)),
        Cmd::Volume(c) => finish(volumes::volume(&root, &runroot, c)),
        Cmd::Network(c) => finish(networks::network(&root, &runroot, c)),
        Cmd::Port { container, port } => {
            finish(networks::port(&root, &runroot, &container, port.as_deref()))
        }
        Cmd::Exec(a) => finish(exec::exec(&root, &runroot, a)),
        Cmd::Attach(a) => finish(attach::attach(&root, &runroot, a)),
        Cmd::Pause(a) => finish(lifecycle::pause(&root, &runroot, a)),
        Cmd::Update(a) => finish(update::update(&root, &runroot, a)),
        Cmd::Unpause(a) => finish(lifecycle::unpause(&root, &runroot, a)),
        Cmd::Top(a) => finish(stats::top(&root, &runroot, a)),
        Cmd::Stats(a) => finish(stats::stats(&root, &runroot, a)),
        Cmd::Events(a) => finish(events::events(&root, &runroot, a)),
        Cmd::Diff(a) => finish(fs::diff(&root, &runroot, a)),
        Cmd::Commit(a) => finish(fs::commit(&root, &runroot, a)),
        Cmd::Cp(a) => finish(fs::cp(&root, &runroot, a)),
        Cmd::Container(c) => finish(container::container(&root, &runroot, c)),
        Cmd::System(c) => finish(system::system(&root, &runroot, c)),
        Cmd::Info(a) => finish(system::info(&root, &runroot, a)),
        Cmd::Runtime { args } => {
            let mut a = vec!["skiff-runtime".to_string()];
            a.extend(args);
            std::process::exit(skiff_runtime::runc_cli::main(a));
        }
        Cmd::Build(a) => finish(build::build(&root, &runroot, a)),
        Cmd::Builder(c) => finish(builder::builder(&root, &runroot, c)),
        Cmd::Pull(a) => images::pull(&root, &runroot, a),
        Cmd::Push(a) => images::push(&root, &runroot, a),
        Cmd::Login(a) => images::login(&root, &runroot, a),
        Cmd::Logout { server } => images::logout(&root, &runroot, server),
        Cmd::Serve(a) => finish(serve::serve(&root, &runroot, a)),
        Cmd::Kube(c) => finish(kube::kube(&root, &runroot, c)),
        Cmd::Import(a) => images::import(&root, &runroot, a),
        Cmd::Save(a) => images::save(&root, &runroot, a),
        Cmd::Load(a) => images::load(&root, &runroot, a),
        Cmd::Images(a) => images::list(&root, &runroot, a),
        Cmd::Tag { source, target } => images::tag(&root, &runroot, &source, &target),
        Cmd::Rmi(a) => images::rmi(&root, &runroot, a),
        Cmd::Image(c) => images::image_cmd(&root, &runroot, c),
        Cmd::History {
            no_trunc,
            quiet,
            format,
            image,
        } => images::image_cmd(
            &root,
            &runroot,
            images::ImageCmd::History {
                no_trunc,
                quiet,
                format,
                image,
            },
        ),
    };
    if let Err(e) = result {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}

/// Exit as a container command's result says.
fn finish(r: Result<(), cli::Failure>) -> ! {
    if let Err(f) = r {
        if !f.msg.is_empty() {
            eprintln!("{}", f.msg);
        }
        std::process::exit(f.code);
    }
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    fn hoisted(line: &str) -> String {
        let argv = line.split(' ').map(str::to_string).collect();
        super::cli::kube::hoist_global_flags(argv, <super::Cli as clap::CommandFactory>::command)
            .join(" ")
    }

    #[test]
    fn kubectls_namespace_before_the_command() {
        assert_eq!(
            hoisted("skiff kube -n ns get pods"),
            "skiff kube get pods --namespace=ns"
        );
        assert_eq!(
            hoisted("skiff --root /r kube --namespace=x exec p -- sh -n"),
            "skiff --root /r kube exec p --namespace=x -- sh -n"
        );
        assert_eq!(
            hoisted("skiff kube -nfoo rollout status deploy/a"),
            "skiff kube rollout status deploy/a --namespace=foo"
        );
        // A command without namespaces: dropped, as kubectl ignores it.
        assert_eq!(hoisted("skiff kube -n x top node"), "skiff kube top node");
        // Not kube's, or already after the command: left alone.
        assert_eq!(hoisted("skiff logs kube -n 5"), "skiff logs kube -n 5");
        assert_eq!(
            hoisted("skiff kube get pods -n x"),
            "skiff kube get pods -n x"
        );
        assert_eq!(hoisted("skiff kube -n"), "skiff kube -n");
    }
}
