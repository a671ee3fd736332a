//! The first pass: parser directives, comments, blank lines, continuations
//! and heredoc bodies; each instruction becomes a [`Node`] with its lines.

use super::heredoc::heredocs_from_line;
use super::words::{new_node, Node};
use crate::dockerfile::ParseError;

pub(super) struct Read {
    pub escape: char,
    pub syntax: Option<String>,
    pub nodes: Vec<Node>,
}

/// The parser directives (`# syntax=`, `# escape=`, `# check=`): only at
/// the top, before any other line (a blank line or another comment ends them).
struct Directives {
    escape: char,
    syntax: Option<String>,
    seen: Vec<String>,
    done: bool,
}

fn is_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// `name = value` as a directive line holds it after the `#`.
fn directive(s: &str) -> Option<(String, String)> {
    let mut chars = s.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let name_end = s
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(s.len());
    let tail = s[name_end..].trim_start_matches(is_regex_space);
    let tail = tail.strip_prefix('=')?;
    let value = tail.trim_start_matches(is_regex_space);
    let value = if value.is_empty() {
        // Only blanks after `=`: the value is the last of them.
        tail.chars().last()?.to_string()
    } else {
        value.trim_end_matches(is_regex_space).to_string()
    };
    Some((s[..name_end].to_ascii_lowercase(), value))
}

impl Directives {
    /// Whether `line` (newline removed) is a directive; an error for a
    /// repeated directive or a bad escape character.
    fn check(&mut self, line: &str) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(body) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((name, value)) = directive(body.trim_start()) else {
            self.done = true;
            return Ok(false);
        };
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        match name.as_str() {
            "escape" => match value.as_str() {
                "\\" | "`" => self.escape = value.chars().next().unwrap_or('\\'),
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ))
                }
            },
            "syntax" => self.syntax = Some(value),
            _ => {}
        }
        self.seen.push(name);
        Ok(true)
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// The line without a trailing continuation (the escape character, then
/// only blanks; not an escaped escape), and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line.to_string(), true);
    };
    if before.is_empty() || !before.ends_with(escape) {
        return (before.to_string(), false);
    }
    (line.to_string(), true)
}

/// Reads `src` into nodes: one per instruction, continuations joined and
/// heredoc bodies attached. `escape` is the escape character until a
/// directive says otherwise.
pub(super) fn read(src: &str, escape: char) -> Result<Read, ParseError> {
    let err = |line: usize, message: String| ParseError { line, message };
    let mut d = Directives {
        escape,
        syntax: None,
        seen: Vec::new(),
        done: false,
    };
    let mut it = src.split_inclusive('\n');
    let mut current = 0;
    let mut nodes = Vec::new();
    // Applies the directive check, then drops comments.
    let process = |d: &mut Directives, raw: &str, strip: bool| -> Result<String, String> {
        let mut t = trim_newline(raw);
        if strip {
            t = t.trim_start();
        }
        d.check(t)?;
        Ok(if is_comment(t) { "" } else { t }.to_string())
    };
    while let Some(mut raw) = it.next() {
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        let line = process(&mut d, raw, true).map_err(|m| err(current + 1, m))?;
        current += 1;
        let start = current;
        let (line, mut end_of_line) = trim_continuation(&line, d.escape);
        if end_of_line && line.is_empty() {
            continue;
        }
        let mut buf = line;
        while !end_of_line {
            let Some(raw) = it.next() else { break };
            let line = process(&mut d, raw, false).map_err(|m| err(current + 1, m))?;
            current += 1;
            // Comment lines and blank lines inside a continuation are dropped.
            if is_comment(raw) || line.trim_start().is_empty() {
                continue;
            }
            let (line, eol) = trim_continuation(&line, d.escape);
            end_of_line = eol;
            buf.push_str(&line);
        }
        let mut node = new_node(&buf, d.escape).map_err(|m| err(start, m))?;
        if node.can_contain_heredoc() && buf.contains("<<") {
            let docs = heredocs_from_line(&buf).map_err(|m| err(start, m))?;
            for mut doc in docs {
                let mut terminated = false;
                for raw in it.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(err(start, "unterminated heredoc".into()));
                }
                node.heredocs.push(doc);
            }
        }
        node.start = start;
        node.end = current;
        if let Some(sub) = node.sub.as_deref_mut() {
            sub.start = start;
            sub.end = current;
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(err(0, "file with no instructions".into()));
    }
    Ok(Read {
        escape: d.escape,
        syntax: d.syntax,
        nodes,
    })
}
