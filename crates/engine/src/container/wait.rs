//! `wait`: until a container is not running.

use super::*;

impl Engine {
    /// `wait`: block until the container is not running; its exit code.
    pub fn wait(&self, what: &str) -> Result<i32> {
        let c = self.find(what)?;
        let mut cur = c;
        loop {
            match cur.state.status {
                Status::Running | Status::Paused | Status::Restarting => {}
                _ => return Ok(cur.state.exit_code),
            }
            if cur.state.status != Status::Restarting {
                wait_gone(
                    cur.state.pid,
                    cur.state.pid_start,
                    Duration::from_millis(500),
                );
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
            cur = match self.store.get(&cur.id)? {
                Some(c) => self.reconcile(c)?,
                // Removed (`--rm`): Docker reports the exit it saw.
                None => return Ok(cur.state.exit_code),
            };
        }
    }
}
