#![recursion_limit = "256"]
//! skiff's engine: the one backend behind the CLI (and later the API and the
//! Kubernetes controllers). Containers are rows in an embedded SQLite store;
//! each running container has a supervisor process that holds its stdio,
//! writes its log, records its exit and applies its restart policy.

pub mod attach;
pub mod build;
pub mod container;
pub mod error;
pub mod events;
pub mod filters;
pub mod health;
pub mod images;
pub mod init;
pub mod logs;
pub mod model;
pub mod mount;
pub mod names;
pub mod network;
pub mod notify;
pub mod objects;
pub mod proc;
pub mod protocol;
pub mod registry;
pub mod sandbox;
pub mod seccomp_profile;
mod spawn;
pub mod spec;
mod startlock;
pub mod store;
pub mod supervisor;
pub mod system;
pub mod time;
pub mod tty;
pub mod units;
pub mod volumes;

use std::path::{Path, PathBuf};

pub(crate) use error::io_err;
pub use error::{Error, ErrorKind, Object, Result, StartCause};

/// Where the engine keeps things.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Persistent state: images, containers' writable layers, logs, the store.
    pub root: PathBuf,
    /// Runtime state (a tmpfs, gone at reboot): the OCI runtime's state.
    pub runroot: PathBuf,
}

impl Paths {
    pub fn db(&self) -> PathBuf {
        self.root.join("containers.db")
    }
    /// A container's directory: upper and work dirs, the rootfs mount point,
    /// config.json, its log and its /etc files.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
    pub fn runtime_root(&self) -> PathBuf {
        self.runroot.join("runtime")
    }
    /// A new, unused path `<root>/tmp/<what>-<random>` for a file or a
    /// directory made for one operation (the parent is made here).
    pub fn temp(&self, what: &str) -> Result<PathBuf> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        Ok(dir.join(format!("{what}-{}", names::new_id())))
    }
}

/// The engine: its paths and an open store.
pub struct Engine {
    pub(crate) paths: Paths,
    pub(crate) store: store::Store,
    /// The executable that runs `__supervise` and `docker-init`.
    pub(crate) supervisor_exe: PathBuf,
    /// Made by the first waiter.
    notifier: std::sync::OnceLock<notify::Notifier>,
    /// Streams of clients attached before their container started, by
    /// container ID (see [`Engine::attach_at_start`]).
    pub(crate) pending_attach:
        std::sync::Mutex<std::collections::HashMap<String, container::Attach>>,
    /// Exec instances made through the API, by their ID.
    pub(crate) exec_instances:
        std::sync::Mutex<std::collections::HashMap<String, container::ExecInstance>>,
    /// The image layer directories of the container this engine created
    /// last, by its ID: a prepared start hands them to the supervisor,
    /// which then need not open the image store to mount the rootfs.
    pub(crate) created_layers: std::sync::Mutex<Option<(String, Vec<PathBuf>)>>,
}

impl Engine {
    pub fn open(root: &Path, runroot: &Path) -> Result<Engine> {
        std::fs::create_dir_all(root).map_err(io_err("creating", root))?;
        let paths = Paths {
            root: root.to_path_buf(),
            runroot: runroot.to_path_buf(),
        };
        let store = store::Store::open(&paths.db())?;
        let supervisor_exe = supervisor_exe()?;
        Ok(Engine {
            paths,
            store,
            supervisor_exe,
            notifier: std::sync::OnceLock::new(),
            pending_attach: Default::default(),
            exec_instances: Default::default(),
            created_layers: Default::default(),
        })
    }

    /// Where the engine keeps things.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// What wakes the engine's waiters (see [`notify`]).
    pub fn notifier(&self) -> Result<&notify::Notifier> {
        if let Some(n) = self.notifier.get() {
            return Ok(n);
        }
        let n = notify::Notifier::new(&self.paths.root)
            .map_err(io_err("watching", &self.paths.root))?;
        Ok(self.notifier.get_or_init(|| n))
    }
}

/// The executable each container's supervisor (and `--init`) runs: the small
/// `skiff-supervisor` installed next to the running executable, else the
/// running executable itself (which then must dispatch `__supervise` and
/// `docker-init` as the skiff binary does). An idle supervisor's private
/// memory is mostly its executable's relocated data, which grows with all the
/// code linked in: the skiff binary's is seven times the small one's.
pub(crate) fn supervisor_exe() -> Result<PathBuf> {
    let me = std::env::current_exe().map_err(io_err(
        "finding the running executable",
        Path::new("/proc/self/exe"),
    ))?;
    let small = me.with_file_name("skiff-supervisor");
    Ok(if small.is_file() { small } else { me })
}

/// One engine serves every thread of a server: it must stay Send + Sync.
const _: () = {
    fn shared<T: Send + Sync>() {}
    fn check() {
        shared::<Engine>();
    }
    let _ = check;
};
