//! What `build` shows while it runs: BuildKit's plain lines, or its live
//! view on a terminal (redrawn in place: each step with its time, the tail
//! of a running step's output).

use skiff_engine::build::{Event, Progress};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// BuildKit's plain progress: `#N name`, `#N 0.123 output`, `#N DONE 0.1s`.
pub struct Plain {
    out: std::io::Stderr,
    started: BTreeMap<usize, Instant>,
    partial: BTreeMap<usize, Vec<u8>>,
}

impl Progress for Plain {
    fn event(&mut self, e: Event<'_>) {
        let mut o = self.out.lock();
        let _ = match e {
            Event::Start { id, name } => {
                self.started.insert(id, Instant::now());
                writeln!(o, "#{id} {name}")
            }
            Event::Cached { id } => writeln!(o, "#{id} CACHED"),
            Event::Output { id, data } => {
                let t = self
                    .started
                    .get(&id)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                let buf = self.partial.entry(id).or_default();
                buf.extend_from_slice(data);
                while let Some(nl) = buf.iter().position(|c| *c == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let _ = writeln!(o, "#{id} {t:.3} {}", String::from_utf8_lossy(&line[..nl]));
                }
                Ok(())
            }
            Event::Status { id, text } => writeln!(o, "#{id} {text}"),
            Event::Done { id, elapsed } => {
                if let Some(rest) = self.partial.remove(&id).filter(|b| !b.is_empty()) {
                    let _ = writeln!(o, "#{id} {}", String::from_utf8_lossy(&rest));
                }
                writeln!(o, "#{id} DONE {:.1}s\n", elapsed.as_secs_f64())
            }
            Event::Failed { id, message, .. } => writeln!(o, "#{id} ERROR: {message}\n"),
            Event::Warning { text } => writeln!(o, "WARNING: {text}"),
        };
    }
}

impl Plain {
    pub fn new() -> Plain {
        Plain {
            out: std::io::stderr(),
            started: BTreeMap::new(),
            partial: BTreeMap::new(),
        }
    }
}

/// Lines of a running step's output the live view shows.
const TAIL: usize = 6;
/// How often the live view is redrawn while nothing happens.
const TICK: Duration = Duration::from_millis(100);

struct Vertex {
    id: usize,
    name: String,
    started: Instant,
    elapsed: Option<Duration>,
    cached: bool,
    failed: bool,
    /// Its last lines of output (and status), while it runs.
    tail: VecDeque<String>,
    partial: Vec<u8>,
    /// Every line, kept for the report of a failed step.
    log: Vec<String>,
}

#[derive(Default)]
struct View {
    started: Option<Instant>,
    vertices: Vec<Vertex>,
    warnings: Vec<String>,
    /// Lines the last drawing took (to move back over them).
    drawn: usize,
    done: bool,
}

impl View {
    fn vertex(&mut self, id: usize) -> Option<&mut Vertex> {
        self.vertices.iter_mut().rev().find(|v| v.id == id)
    }

    fn line(v: &mut Vertex, line: String) {
        if v.tail.len() == TAIL {
            v.tail.pop_front();
        }
        v.tail.push_back(line.clone());
        v.log.push(line);
    }

    fn apply(&mut self, e: Event<'_>) {
        let now = Instant::now();
        match e {
            Event::Start { id, name } => self.vertices.push(Vertex {
                id,
                name: name.to_string(),
                started: now,
                elapsed: None,
                cached: false,
                failed: false,
                tail: VecDeque::new(),
                partial: Vec::new(),
                log: Vec::new(),
            }),
            Event::Cached { id } => {
                if let Some(v) = self.vertex(id) {
                    v.cached = true;
                }
            }
            Event::Output { id, data } => {
                if let Some(v) = self.vertex(id) {
                    v.partial.extend_from_slice(data);
                    while let Some(nl) = v.partial.iter().position(|c| *c == b'\n') {
                        let line: Vec<u8> = v.partial.drain(..=nl).collect();
                        let text = String::from_utf8_lossy(&line[..nl]).into_owned();
                        View::line(v, text);
                    }
                }
            }
            Event::Status { id, text } => {
                if let Some(v) = self.vertex(id) {
                    View::line(v, text.to_string());
                }
            }
            Event::Done { id, elapsed } | Event::Failed { id, elapsed, .. } => {
                let failed = matches!(e, Event::Failed { .. });
                if let Some(v) = self.vertex(id) {
                    if !v.partial.is_empty() {
                        let rest =
                            String::from_utf8_lossy(&std::mem::take(&mut v.partial)).into_owned();
                        View::line(v, rest);
                    }
                    v.elapsed = Some(elapsed);
                    v.failed = failed;
                }
            }
            Event::Warning { text } => self.warnings.push(text.to_string()),
        }
    }

    /// The view as lines of at most `width` characters, the last `height`.
    fn render(&self, width: usize, height: usize) -> Vec<String> {
        let total = self
            .started
            .map_or(Duration::ZERO, |t| t.elapsed())
            .as_secs_f64();
        let finished = self.vertices.iter().filter(|v| v.elapsed.is_some()).count();
        let mut lines = vec![format!(
            "[+] Building {total:.1}s ({finished}/{}){}",
            self.vertices.len(),
            if self.done { " FINISHED" } else { "" }
        )];
        for v in &self.vertices {
            let secs = v
                .elapsed
                .unwrap_or_else(|| v.started.elapsed())
                .as_secs_f64();
            let time = format!("{secs:.1}s");
            let state = if v.failed {
                "ERROR "
            } else if v.cached {
                "CACHED "
            } else {
                ""
            };
            let left = format!(" => {state}{}", v.name);
            lines.push(fit(&left, &time, width));
            if v.elapsed.is_none() || v.failed {
                for t in &v.tail {
                    lines.push(clip(&format!(" => => # {t}"), width));
                }
            }
        }
        if lines.len() > height {
            // The header and the newest lines.
            let keep = height.max(2) - 1;
            let cut = lines.len() - keep;
            lines.drain(1..cut);
        }
        lines
    }
}

/// `text` cut to `width` characters.
fn clip(text: &str, width: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(width)
        .collect()
}

/// `left` and `right` on one line of `width`, `right` flush right.
fn fit(left: &str, right: &str, width: usize) -> String {
    let room = width.saturating_sub(right.len() + 1);
    let left = clip(left, room);
    let pad = width.saturating_sub(left.chars().count() + right.len());
    format!("{left}{}{right}", " ".repeat(pad.max(1)))
}

/// BuildKit's live view (`--progress tty`, or `auto` on a terminal),
/// redrawn on each event and every [`TICK`] by a thread of its own.
pub struct Tty {
    view: Arc<(Mutex<View>, Condvar)>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

fn draw(view: &mut View) {
    let (rows, cols) = skiff_engine::tty::terminal_size(2).unwrap_or((24, 80));
    let lines = view.render(cols.max(20) as usize - 1, rows.max(4) as usize - 1);
    let mut buf = String::new();
    if view.drawn > 0 {
        buf.push_str(&format!("\x1b[{}A", view.drawn));
    }
    for l in &lines {
        buf.push_str("\r\x1b[K");
        buf.push_str(l);
        buf.push('\n');
    }
    buf.push_str("\x1b[J");
    view.drawn = lines.len();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(buf.as_bytes());
    let _ = err.flush();
}

impl Tty {
    pub fn new() -> Tty {
        let view = Arc::new((
            Mutex::new(View {
                started: Some(Instant::now()),
                ..View::default()
            }),
            Condvar::new(),
        ));
        let v = view.clone();
        let ticker = std::thread::spawn(move || {
            let (lock, cv) = &*v;
            let mut g = lock.lock().expect("view");
            while !g.done {
                draw(&mut g);
                g = cv.wait_timeout(g, TICK).expect("view").0;
            }
        });
        Tty {
            view,
            ticker: Some(ticker),
        }
    }

    /// The last drawing, then what a failed step printed and the warnings
    /// (as BuildKit prints them below its view).
    pub fn finish(&mut self) {
        let Some(t) = self.ticker.take() else {
            return;
        };
        {
            let (lock, cv) = &*self.view;
            lock.lock().expect("view").done = true;
            cv.notify_all();
        }
        let _ = t.join();
        let mut g = self.view.0.lock().expect("view");
        draw(&mut g);
        let mut err = std::io::stderr().lock();
        for v in g.vertices.iter().filter(|v| v.failed) {
            let _ = writeln!(err, "------\n > {}:", v.name);
            for l in v.log.iter().rev().take(10).rev() {
                let _ = writeln!(err, "{l}");
            }
            let _ = writeln!(err, "------");
        }
        for w in &g.warnings {
            let _ = writeln!(err, "WARNING: {w}");
        }
    }
}

impl Progress for Tty {
    fn event(&mut self, e: Event<'_>) {
        let (lock, _) = &*self.view;
        let mut g = lock.lock().expect("view");
        let redraw = !matches!(e, Event::Output { .. });
        g.apply(e);
        if redraw {
            draw(&mut g);
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.finish();
    }
}
