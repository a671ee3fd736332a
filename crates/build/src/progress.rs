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
}

pub trait Progress: Send {
    fn event(&mut self, e: Event<'_>);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn event(&mut self, _: Event<'_>) {}
}
