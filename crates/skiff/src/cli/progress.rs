//! Pull and push progress as Docker's client shows it: a bar per layer on a
//! terminal, else a line per step.

use skiff_engine::images::{PullEvent, PushEvent};
use std::io::{IsTerminal, Write};
use std::sync::Arc;

/// A pull's progress as Docker's client shows it: a bar per layer on a
/// terminal, else a line per step; on stderr when `to_stderr` (`run`
/// pulling a missing image). `shown`: the image's familiar name.
pub fn pull_progress(
    quiet: bool,
    to_stderr: bool,
    shown: String,
) -> Arc<dyn Fn(PullEvent) + Send + Sync> {
    let terminal = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let bars = (!quiet && terminal).then(TermBars::new);
    Arc::new(move |e: PullEvent| {
        if quiet {
            return;
        }
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        if let Some(b) = &bars {
            match &e {
                PullEvent::LayerWaiting(d) => return b.start(&short(d), "Downloading"),
                PullEvent::LayerBytes {
                    digest,
                    done,
                    total,
                } => return b.bytes(&short(digest), *done, *total),
                PullEvent::LayerDone(d) => return b.finish(&short(d), "Pull complete"),
                PullEvent::LayerExists(d) => return b.finish(&short(d), "Already exists"),
                _ => {}
            }
        }
        let line = match e {
            PullEvent::Start { tag, repository } => format!("{tag}: Pulling from {repository}"),
            PullEvent::LayerExists(d) => format!("{}: Already exists", short(&d)),
            PullEvent::LayerWaiting(d) => format!("{}: Pulling fs layer", short(&d)),
            PullEvent::LayerBytes { .. } => return,
            PullEvent::LayerDone(d) => format!("{}: Pull complete", short(&d)),
            PullEvent::Digest(d) => format!("Digest: {d}"),
            PullEvent::Finished { downloaded: true } => {
                format!("Status: Downloaded newer image for {shown}")
            }
            PullEvent::Finished { downloaded: false } => {
                format!("Status: Image is up to date for {shown}")
            }
        };
        match &bars {
            Some(b) => b.println(&line),
            None if to_stderr => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            None => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    })
}

/// A push's progress as Docker's client shows it: a bar per layer on a
/// terminal, else a line per step.
pub fn push_progress(quiet: bool) -> Arc<dyn Fn(PushEvent) + Send + Sync> {
    let bars = (!quiet && std::io::stdout().is_terminal()).then(TermBars::new);
    Arc::new(move |e: PushEvent| {
        if quiet {
            return;
        }
        let short = |d: &skiff_image::digest::Digest| d.hex()[..12].to_string();
        if let Some(b) = &bars {
            match &e {
                PushEvent::BlobBytes {
                    digest,
                    done,
                    total,
                } => {
                    b.start(&short(digest), "Pushing");
                    return b.bytes(&short(digest), *done, *total);
                }
                PushEvent::BlobPushed(d) => return b.finish(&short(d), "Pushed"),
                PushEvent::BlobExists(d) => return b.finish(&short(d), "Layer already exists"),
                PushEvent::BlobMounted { digest, from } => {
                    return b.finish(&short(digest), &format!("Mounted from {from}"))
                }
                _ => {}
            }
        }
        let line = match e {
            PushEvent::Start { repository } => {
                format!("The push refers to repository [{repository}]")
            }
            PushEvent::BlobExists(d) => format!("{}: Layer already exists", short(&d)),
            PushEvent::BlobMounted { digest, from } => {
                format!("{}: Mounted from {from}", short(&digest))
            }
            PushEvent::BlobBytes { .. } => return,
            PushEvent::BlobPushed(d) => format!("{}: Pushed", short(&d)),
            PushEvent::Done { tag, digest, size } => {
                format!("{tag}: digest: {digest} size: {size}")
            }
        };
        match &bars {
            Some(b) => b.println(&line),
            None => {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        }
    })
}

/// Per-layer progress bars on a terminal (bytes and speed), as Docker draws them.
struct TermBars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl TermBars {
    fn new() -> TermBars {
        TermBars {
            multi: indicatif::MultiProgress::new(),
            bars: Default::default(),
        }
    }

    fn bar(&self, id: &str) -> indicatif::ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let b = self.multi.add(indicatif::ProgressBar::new(0));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_prefix(id.to_string());
                b
            })
            .clone()
    }

    fn start(&self, id: &str, msg: &str) {
        self.bar(id).set_message(msg.to_string());
    }

    fn bytes(&self, id: &str, done: u64, total: u64) {
        let b = self.bar(id);
        b.set_length(total);
        b.set_position(done);
    }

    fn finish(&self, id: &str, msg: &str) {
        let b = self.bar(id);
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.finish_with_message(msg.to_string());
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }
}
