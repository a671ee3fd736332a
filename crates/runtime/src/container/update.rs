//! `update`: new resource limits applied to the cgroup and merged into the
//! saved config.

use super::{load, manager_for};
use crate::spec::Resources;
use crate::state::Status;
use crate::Error;
use std::path::Path;

/// `update`: apply new resource limits and remember them.
pub fn update(root: &Path, id: &str, res: &Resources) -> Result<(), Error> {
    let (mut st, status) = load(root, id)?;
    if status == Status::Stopped {
        return Err(Error::BadStatus {
            id: id.into(),
            op: "update",
            status,
        });
    }
    manager_for(&st)?.apply(res)?;
    let linux = st.config.linux.get_or_insert_with(Default::default);
    let cur = linux.resources.get_or_insert_with(Default::default);
    merge_resources(cur, res);
    st.save(root)?;
    Ok(())
}

fn merge_resources(cur: &mut Resources, new: &Resources) {
    if new.memory.is_some() {
        cur.memory = new.memory.clone();
    }
    if new.cpu.is_some() {
        cur.cpu = new.cpu.clone();
    }
    if new.pids.is_some() {
        cur.pids = new.pids.clone();
    }
    if new.block_io.is_some() {
        cur.block_io = new.block_io.clone();
    }
    if !new.hugepage_limits.is_empty() {
        cur.hugepage_limits = new.hugepage_limits.clone();
    }
    if new.unified.is_some() {
        cur.unified = new.unified.clone();
    }
}
