//! What a build needs from the engine: images by name (pulled when
//! missing) and processes run in a mounted root filesystem. The engine
//! implements [`Host`]; the builder knows nothing of containers.

use skiff_image::digest::Digest;
use std::path::{Path, PathBuf};

/// A RUN step's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// A network namespace of its own with only loopback.
    #[default]
    None,
    /// The host's network namespace.
    Host,
}

/// A mount a RUN step gets beside the standard ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraMount {
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
}

/// One process to run for a RUN step.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// A directory for the run's own files (its bundle).
    pub scratch: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub cwd: String,
    pub network: Network,
    /// Files bind-mounted over /etc/hosts and /etc/resolv.conf.
    pub etc_files: Vec<(String, PathBuf)>,
    pub mounts: Vec<ExtraMount>,
}

/// Why the host could not do something.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    NoSuchImage(String),
    /// The command could not be started (not found: 127, not executable: 126).
    #[error("{message}")]
    Exec { code: i32, message: String },
    #[error("{0}")]
    Other(String),
}

pub trait Host: Sync {
    /// The ID of the image `name`, pulled when missing (always with `pull`).
    fn image(&self, name: &str, pull: bool) -> Result<Digest, HostError>;
    /// Download `url` into the file `to` (ADD of a URL).
    fn fetch(&self, url: &str, to: &Path) -> Result<(), HostError>;
    /// Run `req` to its end; its stdout and stderr go to `output` as they
    /// come. Its exit code.
    fn run(&self, req: &RunRequest<'_>, output: &mut dyn FnMut(&[u8])) -> Result<i32, HostError>;
}
