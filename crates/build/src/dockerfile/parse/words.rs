//! One joined instruction line -> a raw [`Node`]: the instruction word, its
//! `--flags`, and its arguments split the way that instruction splits them
//! (JSON array, whitespace, quoted words, `key=value` pairs, whole rest).

use super::heredoc::RawHeredoc;

/// An instruction as the first pass sees it.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    /// The instruction word as written (`run`, `RUN`, ...).
    pub cmd: String,
    /// `--flag[=value]` words, quotes and escapes removed.
    pub flags: Vec<String>,
    /// The arguments, split as the instruction splits them.
    pub args: Vec<String>,
    /// ENV and LABEL: the pairs, values as written.
    pub kvs: Vec<(String, String)>,
    /// The arguments were a JSON array.
    pub json: bool,
    /// ONBUILD: the trigger.
    pub sub: Option<Box<Node>>,
    /// The whole line as written, continuations joined.
    pub original: String,
    pub heredocs: Vec<RawHeredoc>,
    pub start: usize,
    pub end: usize,
}

impl Node {
    /// RUN, COPY and ADD (also as an ONBUILD trigger) in shell / word form.
    pub fn can_contain_heredoc(&self) -> bool {
        let n = match &self.sub {
            Some(sub) if self.cmd.eq_ignore_ascii_case("onbuild") => sub,
            _ => self,
        };
        let cmd = n.cmd.to_ascii_lowercase();
        matches!(cmd.as_str(), "run" | "copy" | "add") && !n.json
    }
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The separators of Docker's whitespace splits.
fn is_split_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

pub(super) fn new_node(line: &str, escape: char) -> Result<Node, String> {
    let (cmd, flags, rest) = split_command(line, escape);
    let mut node = Node {
        cmd,
        flags,
        original: line.to_string(),
        ..Node::default()
    };
    match node.cmd.to_lowercase().as_str() {
        "add" | "copy" | "volume" => match parse_json(&rest)? {
            Some(args) => (node.args, node.json) = (args, true),
            None => node.args = split_ws(&rest),
        },
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(&rest, &mut node)?,
        "arg" => node.args = parse_words(&rest, escape),
        "env" => node.kvs = parse_name_val(&rest, "ENV", escape)?,
        "label" => node.kvs = parse_name_val(&rest, "LABEL", escape)?,
        "expose" | "from" => node.args = split_ws(&rest),
        "healthcheck" => {
            let Some(sep) = rest.find(is_space) else {
                if !rest.is_empty() {
                    node.args.push(rest);
                }
                return Ok(node);
            };
            let cmd_part = rest[sep..].trim_start_matches(is_space).to_string();
            node.args.push(rest[..sep].to_string());
            maybe_json(&cmd_part, &mut node)?;
        }
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args.push(rest);
        }
        "onbuild" if !rest.is_empty() => {
            node.sub = Some(Box::new(new_node(&rest, escape)?));
        }
        _ => {}
    }
    Ok(node)
}

/// The exec form if `rest` is a JSON array of strings, else the whole rest.
fn maybe_json(rest: &str, node: &mut Node) -> Result<(), String> {
    if rest.is_empty() {
        return Ok(());
    }
    match parse_json(rest)? {
        Some(args) => {
            node.args.extend(args);
            node.json = true;
        }
        None => node.args.push(rest.to_string()),
    }
    Ok(())
}

/// `Some` for a JSON array of strings, `None` for anything that is not a
/// JSON array; an array holding something else than strings is an error.
pub(super) fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let t = rest.trim_start_matches(is_space);
    if !t.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(t) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => {
                Err("when using JSON array syntax, arrays must be comprised of strings only".into())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Splits on runs of blanks (no quote handling).
pub(super) fn split_ws(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_split_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `INSTR [--flags] args`: the instruction word, the flags, the trimmed rest.
pub(super) fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let t = line.trim_matches(is_space);
    let Some(i) = t.find(is_split_space) else {
        return (t.to_string(), Vec::new(), String::new());
    };
    let after = t[i..].trim_start_matches(is_split_space);
    let (rest, flags) = extract_flags(after, escape);
    (
        t[..i].to_string(),
        flags,
        rest.trim_matches(is_space).to_string(),
    )
}

#[derive(PartialEq, Clone, Copy)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// The leading words that start with `--` (up to a lone `--`), quotes
/// removed and escapes applied; and the rest of the line.
fn extract_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut buf = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= n {
        let ch = chars.get(pos).map(|c| c.1).unwrap_or('\0');
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            let dash2 = ch == '-' && chars.get(pos + 1).map(|c| c.1) == Some('-');
            if !dash2 {
                return (&line[chars[pos].0..], words);
            }
            phase = Phase::Word;
        }
        if pos == n {
            if buf != "--" && (blank_ok || !buf.is_empty()) {
                words.push(buf);
            }
            break;
        }
        let mut ch = ch;
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if buf == "--" {
                    return (&line[chars[pos].0..], words);
                }
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                buf.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = chars[pos].1;
            }
            buf.push(ch);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == escape {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = chars[pos].1;
        }
        buf.push(ch);
        pos += 1;
    }
    ("", words)
}

/// Words split on unquoted blanks, quotes and escapes kept as written.
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut buf = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= n {
        let mut ch = chars.get(pos).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if pos == n {
            if blank_ok || !buf.is_empty() {
                words.push(buf);
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                buf.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            buf.push(ch);
            pos += 1;
            continue;
        }
        // In quotes: the escape works except in single quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            buf.push(ch);
            pos += 1;
            ch = chars[pos];
        }
        buf.push(ch);
        pos += 1;
    }
    words
}

/// ENV / LABEL: `k=v k2="a b"`, or the legacy `k value with spaces`.
fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, is_split_space);
        let name = parts.next().unwrap_or_default();
        let value = parts.next().map(|v| v.trim_start_matches(is_split_space));
        return match value {
            Some(v) => Ok(vec![(name.to_string(), v.to_string())]),
            None => Err(format!("{key} must have two arguments")),
        };
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                crate::dockerfile::shell::go_quote(w)
            )),
        })
        .collect()
}
