//! What a build reports while it runs, for a front end to show (BuildKit's
//! plain lines, a live view, a JSON stream).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Vertex `id` begins: `[stage 2/5] RUN make`.
    Start {
        id: usize,
        name: &'a str,
    },
    /// It was found in the cache.
    Cached {
        id: usize,
    },
    /// Output of its process, as it comes.
    Output {
        id: usize,
        data: &'a [u8],
    },
    /// A line of status about it (`writing image sha256:...`).
    Status {
        id: usize,
        text: &'a str,
    },
    Done {
        id: usize,
        elapsed: Duration,
    },
    Failed {
        id: usize,
        elapsed: Duration,
        message: &'a str,
    },
    /// Something the user should know that does not stop the build.
    Warning {
        text: &'a str,
    },
}

impl<'a> Event<'a> {
    /// The same event of vertex `f(id)`.
    pub fn map_id(self, f: impl FnOnce(usize) -> usize) -> Event<'a> {
        match self {
            Event::Start { id, name } => Event::Start { id: f(id), name },
            Event::Cached { id } => Event::Cached { id: f(id) },
            Event::Output { id, data } => Event::Output { id: f(id), data },
            Event::Status { id, text } => Event::Status { id: f(id), text },
            Event::Done { id, elapsed } => Event::Done { id: f(id), elapsed },
            Event::Failed {
                id,
                elapsed,
                message,
            } => Event::Failed {
                id: f(id),
                elapsed,
                message,
            },
            Event::Warning { text } => Event::Warning { text },
        }
    }
}

pub trait Progress: Send {
    fn event(&mut self, e: Event<'_>);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn event(&mut self, _: Event<'_>) {}
}
