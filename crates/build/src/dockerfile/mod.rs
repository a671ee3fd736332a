//! The Dockerfile language as Docker documents it, parsed into stages of
//! instructions. Words stay as written (quotes kept, variables unexpanded):
//! Docker expands them while it builds, with the ARG and ENV values in scope
//! at that step, through [`shell::Lexer`].

mod parse;
pub mod shell;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_heredoc;
#[cfg(test)]
mod tests_instr;
#[cfg(test)]
mod tests_mount;

pub use parse::{parse, parse_mount, parse_trigger};

use std::time::Duration;

/// Where a Dockerfile said something: 1-based line numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    /// The last line (continuations and heredoc bodies included).
    pub end_line: usize,
}

/// A parse error, worded as Docker's: `dockerfile parse error on line N: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// 1-based; 0 when the error is about the whole file (it is empty).
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// The `# escape=` directive (`\` by default, or `` ` ``).
    pub escape: char,
    /// The `# syntax=` directive: accepted and ignored.
    pub syntax: Option<String>,
    /// ARG instructions before the first FROM: usable in FROM lines, and in
    /// a stage that declares them again.
    pub meta_args: Vec<(Location, Vec<ArgDecl>)>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Its position among the stages (`COPY --from=0`).
    pub index: usize,
    /// `AS name`, lowercased as Docker compares stage names.
    pub name: Option<String>,
    /// The image (or an earlier stage's name) as written: `$ARG`s unexpanded.
    pub base: String,
    /// `FROM --platform=...` as written.
    pub platform: Option<String>,
    pub location: Location,
    /// The FROM line as written.
    pub original: String,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    pub location: Location,
    /// The instruction as written, continuations joined into one line
    /// (what Docker shows in errors and build output).
    pub original: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    /// JSON form only, as Docker requires.
    Shell(Vec<String>),
    /// `ENV k=v ...` or the legacy `ENV k v`; values as written.
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Maintainer(String),
    /// The ports as written (`80`, `80/udp`, `$PORT`, `8000-8010`).
    Expose(Vec<String>),
    Arg(Vec<ArgDecl>),
    Copy(Copy),
    Add(Copy),
    /// JSON form or words, as written.
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    /// The trigger, parsed (never FROM, MAINTAINER or ONBUILD).
    Onbuild(Box<Instruction>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
}

/// A `key=value` pair; `value` as written (quotes kept, unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `ARG name` or `ARG name=default` (default as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// The shell form (run by the stage's SHELL) or the exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    /// As written, continuation lines joined (the escape and newline removed).
    Shell(String),
}

/// A here-document (`<<EOF`, `<<-EOF`, `<<"EOF"`): BuildKit's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, without quotes.
    pub name: String,
    /// The body, each line ending in `\n`; with `<<-`, leading tabs removed.
    pub content: String,
    /// Variables in the body are expanded (the delimiter was not quoted).
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub command: Command,
    /// The here-documents the command line opens, in order. A shell-form
    /// command that is only `<<EOF` runs the body as its script.
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<Mount>,
    /// The `--mount` values as written (quotes removed, variables not
    /// expanded), one per entry of `mounts`. Docker expands variables in
    /// mount options: a builder reads a spec holding a `$` again through
    /// [`parse_mount`] with its expansion (options that need a typed value
    /// and hold a `$` are left at their defaults in `mounts`).
    pub mount_specs: Vec<String>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
}

/// `RUN --mount=...`, with BuildKit's option names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    /// `target`, `dst`, `destination`; a secret's default is /run/secrets/<id>.
    pub target: Option<String>,
    /// `source`, `src`: a path in `from` (bind, cache) or the context.
    pub source: Option<String>,
    /// `from`: a stage name or index, or an image.
    pub from: Option<String>,
    /// `id` (cache, secret).
    pub id: Option<String>,
    /// `sharing=shared|private|locked` (cache; default shared).
    pub sharing: Sharing,
    /// `rw`, `readwrite` (bind: writes are thrown away) / `ro`, `readonly` (cache).
    pub readonly: bool,
    /// `size` (tmpfs), in bytes.
    pub size: Option<u64>,
    /// `mode`, `uid`, `gid` (cache, secret).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `required` (secret).
    pub required: bool,
    /// `env=NAME` (secret): exposed as a variable instead of (or besides) a file.
    pub env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    #[default]
    Shared,
    Private,
    Locked,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// As written (JSON form or words); heredoc sources are in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=stage|index|image` (COPY only).
    pub from: Option<String>,
    /// `--chown=user[:group]` as written.
    pub chown: Option<String>,
    /// `--chmod=` as written (octal).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--exclude=PATTERN`, repeatable.
    pub excludes: Vec<String>,
    /// `--checksum=sha256:...` (ADD of a URL).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD).
    pub keep_git_dir: bool,
    /// `--parents` (COPY): keep the source paths' parent directories.
    pub parents: bool,
    /// `COPY <<EOF /file`: each becomes a file named by its delimiter.
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`.
    None,
    Check {
        /// `CMD` + exec or shell form.
        test: Command,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<i64>,
    },
}

impl Instruction {
    /// The text an image config keeps for an ONBUILD trigger (this
    /// instruction, with its heredoc bodies after it), as [`parse_trigger`]
    /// reads it back.
    pub fn trigger_text(&self) -> String {
        let docs: &[Heredoc] = match &self.kind {
            Kind::Run(r) => &r.heredocs,
            Kind::Copy(c) | Kind::Add(c) => &c.heredocs,
            _ => &[],
        };
        let mut out = self.original.clone();
        for d in docs {
            out.push('\n');
            out.push_str(&d.content);
            out.push_str(&d.name);
        }
        out
    }
}

impl Dockerfile {
    /// The stage named `name` (case-insensitive) or at index `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }
}
