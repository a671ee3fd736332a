//! `run`: `create`, then start the container attached to the terminal (or
//! detached with `-d`) and exit as it does.

use super::create::{bad_flag, create_options, create_pulling, CreateArgs};
use super::terminal::{
    check_detach_keys, dup, proxy_signals, require_tty, RawTerminal, WindowChanges,
};
use super::{exit_code, open, Failure, Result};
use clap::Args;
use skiff_engine::container::Attach;
use std::path::Path;

// `run` adds `-d`. (A plain comment: see `CreateArgs`.)
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[command(flatten)]
    create: CreateArgs,
}

/// `msg` with one final period, as Docker's CLI prints daemon errors.
fn period(msg: &str) -> String {
    if msg.ends_with('.') {
        msg.to_string()
    } else {
        format!("{msg}.")
    }
}

pub fn run(root: &Path, runroot: &Path, a: RunArgs) -> Result {
    skiff_runtime::log::timing("cli: run");
    if !a.detach {
        require_tty(a.create.tty, a.create.interactive)?;
    }
    let mut o = create_options(&a.create).map_err(bad_flag("run"))?;
    // Docker reads the keys only when it attaches.
    if !a.detach {
        check_detach_keys(&a.detach_keys, 125, "skiff: ")?;
    }
    let attach = if a.detach {
        None
    } else {
        Some(Attach {
            stdin: if a.create.interactive {
                Some(dup(0)?)
            } else {
                None
            },
            stdout: dup(1)?,
            stderr: dup(2)?,
            detach_keys: a.detach_keys.clone(),
        })
    };
    // The supervisor starts while the store is opened and the container
    // made, under the ID it is made with (it waits for the start).
    let prepared =
        skiff_engine::Engine::prepare_start(root, runroot, attach).map_err(|err| Failure {
            code: exit_code(&err),
            msg: format!(
                "skiff: Error response from daemon: {}",
                period(&err.to_string())
            ),
        })?;
    let e = open(root, runroot)?;
    o.id = Some(prepared.id().to_string());
    let c = create_pulling(&e, &o).map_err(|err| Failure {
        code: exit_code(&err),
        msg: format!(
            "skiff: Error response from daemon: {}\nSee 'skiff run --help'.",
            period(&err.to_string())
        ),
    })?;
    // With -it on a terminal, keystrokes go to the container as typed (set
    // before the container can print anything).
    let raw = (a.create.tty && a.create.interactive && !a.detach)
        .then(RawTerminal::enter)
        .flatten();
    // Detached, Docker prints the ID once the container exists, so it shows
    // even when the start fails.
    if a.detach {
        println!("{}", c.id);
    }
    // The size the container's pty starts at (the supervisor reads it the
    // same way): a change before the watch below begins is caught by the
    // watch's periodic comparison against it.
    let initial_size = skiff_engine::tty::terminal_size(1);
    let started = e.start_prepared(&c.id, prepared).map_err(|err| Failure {
        code: exit_code(&err),
        msg: format!(
            "skiff: Error response from daemon: {}",
            period(&err.to_string())
        ),
    })?;
    if a.detach {
        started.detach();
        return Ok(());
    }
    if !a.create.tty {
        proxy_signals(started.pid);
    }
    // With -it, the container's pty follows our terminal's size (watched
    // from here on: the supervisor, started above, keeps the signal mask it
    // was started with).
    let window = (a.create.tty && a.create.interactive)
        .then(WindowChanges::watch)
        .flatten();
    let done = std::sync::atomic::AtomicBool::new(false);
    let waited = std::thread::scope(|s| {
        if let Some(w) = window {
            let (e, id, done) = (&e, &c.id, &done);
            s.spawn(move || follow_window(w, e, id, initial_size, done));
        }
        let r = started.wait();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    });
    drop(raw);
    let code = match waited.map_err(|err| Failure {
        code: 125,
        msg: err.to_string(),
    })? {
        Some(code) => code,
        None => std::process::exit(0), // detached
    };
    skiff_runtime::log::timing("cli: exit reported");
    std::process::exit(code);
}

/// Resize container `id`'s pty as our terminal changes, until `done`. The
/// size is also compared every second: a thread that was there before the
/// signal was blocked (an image pull's) may take a SIGWINCH and drop it.
fn follow_window(
    mut w: WindowChanges,
    e: &skiff_engine::Engine,
    id: &str,
    mut last: Option<(u16, u16)>,
    done: &std::sync::atomic::AtomicBool,
) {
    let mut ticks = 0;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let mut p = libc::pollfd {
            fd: w.raw(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut p, 1, 200) } > 0;
        ticks += 1;
        let now = if ready {
            w.changed()
        } else if ticks % 5 == 0 {
            skiff_engine::tty::terminal_size(1)
        } else {
            None
        };
        if let Some((rows, cols)) = now.filter(|n| Some(*n) != last) {
            last = Some((rows, cols));
            let _ = e.resize(id, rows, cols);
        }
    }
}
