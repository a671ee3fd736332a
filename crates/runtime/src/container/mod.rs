//! The container lifecycle as the runtime-spec defines it: create (process waits
//! at the start barrier), start, state, kill, delete, plus pause/resume, update,
//! ps and run. Everything is checked before anything is created, and a failed
//! create leaves no state directory, cgroup, mount or process behind.

mod checks;
mod create;
mod lifecycle;
mod query;
mod update;

pub(crate) use checks::{assert_single_threaded, drop_unavailable_caps};
pub use create::{create, create_child, CreateOpts};
pub use lifecycle::{delete, kill, pause, resume, run, start};
pub use query::{list, load, pids, state_json};
pub use update::update;

use crate::cgroups::{Layout, Manager};
use crate::state::{State, Status};
use crate::Error;
use std::path::Path;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |err| Error::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// The runtime's cgroup view, read once per process.
fn layout() -> Result<Layout, Error> {
    Ok(Layout::detect_once()?)
}

fn hook_state(st: &State, status: Status) -> Vec<u8> {
    serde_json::to_vec(&st.oci(status)).expect("state serializes")
}

fn manager_for(st: &State) -> Result<Manager, Error> {
    Ok(Manager::new(layout()?, &st.cgroup_path))
}
