//! `container ...`: Docker's management command; each subcommand is the
//! top-level command of its name.

use super::create::{create, CreateArgs};
use super::exec::{exec, ExecArgs};
use super::fs::{diff, DiffArgs};
use super::inspect::{inspect, InspectArgs};
use super::lifecycle::{
    kill, pause, rename, restart, rm, start, stop, unpause, wait, KillArgs, NamesArgs, RmArgs,
    StartArgs, StopArgs, WaitArgs,
};
use super::logs::{logs, LogsArgs};
use super::ps::{ps, PsArgs};
use super::run::{run, RunArgs};
use super::stats::{stats, top, StatsArgs, TopArgs};
use super::system::{container_prune, PruneArgs};
use super::Result;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum ContainerCmd {
    /// List containers.
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// Create and run a new container.
    Run(RunArgs),
    /// Create a new container.
    Create(CreateArgs),
    /// Start containers.
    Start(StartArgs),
    /// Stop containers.
    Stop(StopArgs),
    /// Restart containers.
    Restart(StopArgs),
    /// Kill containers.
    Kill(KillArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Fetch a container's logs.
    Logs(LogsArgs),
    /// Wait for containers to stop.
    Wait(WaitArgs),
    /// Display detailed information on containers.
    Inspect(InspectArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Pause all processes of containers.
    Pause(NamesArgs),
    /// Unpause containers.
    Unpause(NamesArgs),
    /// Update configuration of one or more containers.
    Update(super::update::UpdateArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Display resource usage statistics.
    Stats(StatsArgs),
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Inspect changes on a container's filesystem.
    Diff(DiffArgs),
}

pub fn container(root: &Path, runroot: &Path, c: ContainerCmd) -> Result {
    match c {
        ContainerCmd::Ls(a) => ps(root, runroot, a),
        ContainerCmd::Prune(a) => container_prune(root, runroot, a),
        ContainerCmd::Run(a) => run(root, runroot, a),
        ContainerCmd::Create(a) => create(root, runroot, a),
        ContainerCmd::Start(a) => start(root, runroot, a),
        ContainerCmd::Stop(a) => stop(root, runroot, a),
        ContainerCmd::Restart(a) => restart(root, runroot, a),
        ContainerCmd::Kill(a) => kill(root, runroot, a),
        ContainerCmd::Rm(a) => rm(root, runroot, a),
        ContainerCmd::Logs(a) => logs(root, runroot, a),
        ContainerCmd::Wait(a) => wait(root, runroot, a),
        ContainerCmd::Inspect(a) => inspect(root, runroot, a),
        ContainerCmd::Exec(a) => exec(root, runroot, a),
        ContainerCmd::Pause(a) => pause(root, runroot, a),
        ContainerCmd::Unpause(a) => unpause(root, runroot, a),
        ContainerCmd::Update(a) => super::update::update(root, runroot, a),
        ContainerCmd::Top(a) => top(root, runroot, a),
        ContainerCmd::Stats(a) => stats(root, runroot, a),
        ContainerCmd::Rename {
            container,
            new_name,
        } => rename(root, runroot, &container, &new_name),
        ContainerCmd::Diff(a) => diff(root, runroot, a),
    }
}
