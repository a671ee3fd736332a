//! The scenarios of docker_parity.rs, by what they exercise; the table
//! that runs them is there.

mod diff_commit_cp;
mod environment;
mod exec_top_stats;
mod exit_codes;
mod init_health_events;
mod inspect;
mod labels_ps;
mod lifecycle;
mod logs;
mod networking;
mod resources;
mod security;
mod stopping;
mod volumes;

pub(crate) use diff_commit_cp::*;
pub(crate) use environment::*;
pub(crate) use exec_top_stats::*;
pub(crate) use exit_codes::*;
pub(crate) use init_health_events::*;
pub(crate) use inspect::*;
pub(crate) use labels_ps::*;
pub(crate) use lifecycle::*;
pub(crate) use logs::*;
pub(crate) use networking::*;
pub(crate) use resources::*;
pub(crate) use security::*;
pub(crate) use stopping::*;
pub(crate) use volumes::*;
