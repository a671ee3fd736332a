//! Reading containers: a container's state and status, the OCI state JSON,
//! its pids, and the list of all containers.

use super::manager_for;
use crate::state::{self, State, Status};
use crate::Error;
use std::path::Path;

/// Load a container's state and compute its status.
pub fn load(root: &Path, id: &str) -> Result<(State, Status), Error> {
    let st = State::load(root, id)?;
    let status = st.status(root, || {
        manager_for(&st)
            .ok()
            .and_then(|m| m.is_frozen().ok())
            .unwrap_or(false)
    });
    Ok((st, status))
}

/// `state`: the OCI state JSON.
pub fn state_json(root: &Path, id: &str) -> Result<String, Error> {
    let (st, status) = load(root, id)?;
    Ok(serde_json::to_string_pretty(&st.oci(status)).expect("state serializes"))
}

/// `ps`: pids in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, Error> {
    let (st, _) = load(root, id)?;
    Ok(manager_for(&st)?.pids()?)
}

/// `list`: every container under `root` with its status (those whose state
/// cannot be read are left out).
pub fn list(root: &Path) -> Vec<(State, Status)> {
    state::list_ids(root)
        .into_iter()
        .filter_map(|id| load(root, &id).ok())
        .collect()
}
