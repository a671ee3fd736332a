//! The shell patterns of `${v#p}`, `${v%p}` and `${v/p/r}`: `*` (any run
//! of characters), `?` (one character), `\*`, `\?`, `\\` (literals); `\}`
//! and `\/` stand for `}` and `/`. Neither wildcard matches a newline.
//! A match is the first one a backtracking search finds, stars taking as
//! much as they can (greedy) or as little (shortest).

use super::EOF_CHAR;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Star,
    Any,
    Lit(char),
}

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let wrap = |e: String| format!("invalid pattern ({pattern}) in substitution: {e}");
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                // `\}` and `\/` only protect the character from the `${}` syntax.
                if matches!(chars.get(i), Some('}' | '/')) {
                    continue;
                }
                let n = chars.get(i).copied();
                i += 1;
                match n {
                    Some(n @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(n)),
                    other => {
                        return Err(wrap(format!(
                            "invalid escape '\\{}'",
                            other.unwrap_or(EOF_CHAR)
                        )))
                    }
                }
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(toks)
}

struct Search<'a> {
    toks: &'a [Tok],
    text: &'a [char],
    greedy: bool,
    /// (token, position) -> the end of the first match from there.
    memo: Vec<Option<Option<usize>>>,
}

impl<'a> Search<'a> {
    fn new(toks: &'a [Tok], text: &'a [char], greedy: bool) -> Self {
        Search {
            toks,
            text,
            greedy,
            memo: vec![None; (toks.len() + 1) * (text.len() + 1)],
        }
    }

    fn at(&mut self, ti: usize, pos: usize) -> Option<usize> {
        let key = ti * (self.text.len() + 1) + pos;
        if let Some(r) = self.memo[key] {
            return r;
        }
        let r = self.compute(ti, pos);
        self.memo[key] = Some(r);
        r
    }

    fn compute(&mut self, ti: usize, pos: usize) -> Option<usize> {
        let Some(tok) = self.toks.get(ti).copied() else {
            return Some(pos);
        };
        match tok {
            Tok::Lit(c) => (self.text.get(pos) == Some(&c))
                .then(|| self.at(ti + 1, pos + 1))
                .flatten(),
            Tok::Any => match self.text.get(pos) {
                Some(&c) if c != '\n' => self.at(ti + 1, pos + 1),
                _ => None,
            },
            Tok::Star => {
                let max = self.text[pos..].iter().take_while(|c| **c != '\n').count();
                if self.greedy {
                    (0..=max).rev().find_map(|k| self.at(ti + 1, pos + k))
                } else {
                    (0..=max).find_map(|k| self.at(ti + 1, pos + k))
                }
            }
        }
    }

    /// The leftmost match starting at or after `from` (only at `from` if anchored).
    fn find(&mut self, from: usize, anchored: bool) -> Option<(usize, usize)> {
        let last = if anchored { from } else { self.text.len() };
        (from..=last).find_map(|start| self.at(0, start).map(|end| (start, end)))
    }
}

/// `${v#p}` / `${v##p}`: `value` without the shortest / longest prefix matching `pattern`.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let found = Search::new(&toks, &text, greedy).find(0, true);
    Ok(match found {
        Some((_, end)) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${v%p}` / `${v%%p}`: the prefix search on the reversed value and pattern.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let rev_value: String = value.chars().rev().collect();
    let out = trim_prefix(&reverse_pattern(pattern), &rev_value, greedy)?;
    Ok(out.chars().rev().collect())
}

/// Reverses a pattern keeping each escape before the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    if p.is_empty() {
        return String::new();
    }
    let last = p.len() - 1;
    let mut out = vec!['\0'; p.len()];
    let mut i = 0;
    while i <= last {
        let at = last - i;
        if p[i] == '\\' && i != last {
            out[at - 1] = '\\';
            out[at] = p[i + 1];
            i += 2;
        } else {
            out[at] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${v/p/r}` (first match, `r` literal) and `${v//p/r}` (every match; in
/// `r`, `$0` / `${0}` is the match, other `$name`s are empty, `$$` is `$`).
pub(super) fn replace(value: &str, pattern: &str, repl: &str, all: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let mut search = Search::new(&toks, &text, true);
    if !all {
        return Ok(match search.find(0, false) {
            Some((a, b)) => {
                let mut out: String = text[..a].iter().collect();
                out.push_str(repl);
                out.extend(&text[b..]);
                out
            }
            None => value.to_string(),
        });
    }
    let mut out = String::new();
    let mut last_end = 0;
    let mut pos = 0;
    while pos <= text.len() {
        let Some((a, b)) = search.find(pos, false) else {
            break;
        };
        out.extend(&text[last_end..a]);
        // No second replacement for an empty match right after a match.
        if b > last_end || a == 0 {
            expand_template(&mut out, repl, &text[a..b]);
        }
        last_end = b;
        pos = if pos + 1 > b { pos + 1 } else { b };
    }
    out.extend(&text[last_end..]);
    Ok(out)
}

fn expand_template(out: &mut String, template: &str, matched: &[char]) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        match group_ref(rest) {
            Some((name, after)) => {
                if name == "0" {
                    out.extend(matched);
                }
                rest = after;
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// `name` or `{name}` at the start of `s`: the name and what follows.
fn group_ref(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if braced {
        return after.strip_prefix('}').map(|a| (name, a));
    }
    Some((name, after))
}
