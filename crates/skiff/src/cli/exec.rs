//! `exec`: a command in a running container, with Docker's exit codes for
//! one that cannot start.

use super::terminal::{check_detach_keys, require_tty, RawTerminal};
use super::{env_entry, exit_code, open, Failure, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

/// Point fd `fd` at /dev/null.
fn to_null(fd: i32) {
    if let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto one of our standard fds.
        unsafe { libc::dup2(f.as_raw_fd(), fd) };
    }
}

pub fn exec(root: &Path, runroot: &Path, a: ExecArgs) -> Result {
    if !a.detach {
        require_tty(a.tty, a.interactive)?;
    }
    check_detach_keys(&a.detach_keys, 1, "")?;
    let e = open(root, runroot)?;
    let o = skiff_engine::container::ExecOptions {
        cmd: a.command,
        env: a.env.iter().map(|e| env_entry(e)).collect(),
        workdir: a.workdir,
        user: a.user,
        detach: a.detach,
        privileged: a.privileged,
        tty: a.tty,
        interactive: a.interactive,
        detach_keys: a.detach_keys.clone(),
    };
    let raw = (a.tty && a.interactive && !a.detach)
        .then(RawTerminal::enter)
        .flatten();
    if (!a.interactive || a.detach) && !a.tty {
        to_null(0);
    }
    if a.detach {
        to_null(1);
        to_null(2);
    }
    let r = e.exec(&a.container, &o);
    drop(raw);
    match r {
        Ok(code) => std::process::exit(code),
        // Docker's daemon writes a failed exec's error into its output:
        // stdout, with a terminal's line end.
        Err(err @ skiff_engine::Error::Start { .. }) => {
            use std::io::Write;
            let _ = write!(std::io::stdout(), "{err}\r\n");
            let _ = std::io::stdout().flush();
            std::process::exit(exit_code(&err));
        }
        Err(err) => Err(Failure {
            code: 1,
            msg: format!("Error response from daemon: {err}"),
        }),
    }
}
