//! Waiting on containers: `wait` with Docker's conditions, and the engine's
//! own waits for a supervisor to record an exit. Every wait blocks on the
//! engine's notifier (see `notify`), which wakes it when the store changes
//! or the container's supervisor dies; nothing polls.

use super::*;
use crate::notify::Cancel;

/// What `wait` waits for (Docker's `condition`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    /// The container is not running (at once if it is not).
    #[default]
    NotRunning,
    /// The container's next exit, even when it is stopped now.
    NextExit,
    /// The container is removed.
    Removed,
}

impl std::str::FromStr for WaitCondition {
    type Err = Error;
    fn from_str(s: &str) -> Result<WaitCondition> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            _ => Err(Error::Invalid(format!("invalid condition: {s:?}"))),
        }
    }
}

fn active(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// The code of a `die` event.
fn exit_code_of(ev: &crate::store::Event) -> i32 {
    ev.attributes["exitCode"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Where a wait starts: the container, and the journal's position when the
/// wait was asked for (a `next-exit` is an exit after it).
#[derive(Debug, Clone)]
pub struct WaitFrom {
    id: String,
    since: i64,
}

impl Engine {
    /// `wait`: block until `condition` holds for the container; the exit
    /// code of its last exit. Returns `Error::Cancelled` when `cancel` is set.
    pub fn wait(&self, what: &str, condition: WaitCondition, cancel: &Cancel) -> Result<i32> {
        let from = self.wait_begin(what)?;
        self.wait_from(&from, condition, cancel)
    }

    /// The start of a wait, taken before a front end tells its client that
    /// it waits (the API's `wait` answers its headers at once, and the
    /// docker CLI then starts the container: an exit after that answer
    /// must count for `next-exit`).
    pub fn wait_begin(&self, what: &str) -> Result<WaitFrom> {
        Ok(WaitFrom {
            id: self.find(what)?.id,
            since: self.store.last_event_seq()?,
        })
    }

    /// [`wait`](Self::wait) from `from`.
    pub fn wait_from(
        &self,
        from: &WaitFrom,
        condition: WaitCondition,
        cancel: &Cancel,
    ) -> Result<i32> {
        let n = self.notifier()?;
        let (id, since) = (from.id.clone(), from.since);
        loop {
            let seen = n.generation();
            let cur = self.current(&id)?;
            let died = || -> Result<Option<i32>> {
                let evs = self.store.events(&crate::store::EventQuery {
                    after_seq: since,
                    ..Default::default()
                })?;
                Ok(evs
                    .iter()
                    .find(|e| e.actor == id && e.action == "die")
                    .map(exit_code_of))
            };
            match (condition, &cur) {
                // Removed (an `--rm` container): the exit its `die` recorded.
                (_, None) => {
                    return Ok(match self.store.last_event(&id, "die")? {
                        Some(e) => exit_code_of(&e),
                        None => 0,
                    })
                }
                (WaitCondition::NotRunning, Some(c)) if !active(c) => return Ok(c.state.exit_code),
                (WaitCondition::NextExit, Some(_)) => {
                    if let Some(code) = died()? {
                        return Ok(code);
                    }
                }
                _ => {}
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // The death of its supervisor (or, without one, of its process)
            // wakes us too: nothing else would record it.
            let _watch = cur.as_ref().filter(|c| active(c)).and_then(|c| {
                n.watch_pid(c.state.supervisor_pid)
                    .or_else(|| n.watch_pid(c.state.pid))
            });
            n.wait(seen, None, cancel);
        }
    }

    /// Wait until the store no longer says the container runs (its
    /// supervisor recorded the exit, or is gone).
    pub(crate) fn wait_recorded(&self, id: &str, timeout: Duration) -> Result<()> {
        let n = self.notifier()?;
        let deadline = Instant::now() + timeout;
        let cancel = Cancel::new();
        loop {
            let seen = n.generation();
            let Some(c) = self.current(id)? else {
                return Ok(());
            };
            if !matches!(c.state.status, Status::Running | Status::Paused) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Supervisor {
                    id: id.into(),
                    msg: "it did not record the container's exit".into(),
                });
            }
            let _watch = n.watch_pid(c.state.supervisor_pid);
            n.wait(seen, Some(deadline), &cancel);
        }
    }
}
