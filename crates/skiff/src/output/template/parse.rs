//! Parsing a template: the text split into text and actions, each action
//! tokenized into a pipeline of commands, `if`/`range`/`with` nested up to
//! their `end`.

use super::{Arg, Node, Pipe};

// --- lexing actions out of the text -----------------------------------------

enum Piece {
    Text(String),
    Action(String),
}

fn split_actions(tmpl: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        let mut inner = &rest[start + 2..];
        if let Some(t) = inner.strip_prefix("- ") {
            text = text.trim_end().to_string();
            inner = t;
        }
        let end =
            find_close(inner).ok_or_else(|| format!("template: unclosed action in {tmpl:?}"))?;
        let mut action = &inner[..end];
        let mut after = &inner[end + 2..];
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            after = after.trim_start();
        }
        pieces.push(Piece::Text(text));
        pieces.push(Piece::Action(action.trim().to_string()));
        rest = after;
    }
    pieces.push(Piece::Text(rest.to_string()));
    Ok(pieces)
}

/// The `}}` closing an action, skipping string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'`' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q == b'"' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

// --- parsing -----------------------------------------------------------------

pub(super) fn parse(tmpl: &str) -> Result<Vec<Node>, String> {
    let pieces = split_actions(tmpl)?;
    let mut it = pieces.into_iter().peekable();
    let (nodes, end) = parse_list(&mut it)?;
    match end {
        None => Ok(nodes),
        Some(e) => Err(format!("template: unexpected {{{{{e}}}}}")),
    }
}

/// Nodes up to an `end` or `else` (returned) or the end of input (None).
fn parse_list(
    it: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some(p) = it.next() {
        match p {
            Piece::Text(t) => {
                if !t.is_empty() {
                    nodes.push(Node::Text(t));
                }
            }
            Piece::Action(a) => {
                if a == "end" || a == "else" {
                    return Ok((nodes, Some(a)));
                }
                if a.starts_with("/*") {
                    continue;
                }
                let (kw, rest) = match a.split_once(char::is_whitespace) {
                    Some((k, r)) => (k, r.trim()),
                    None => (a.as_str(), ""),
                };
                match kw {
                    "if" | "range" | "with" => {
                        let (decl, rest) = if kw == "range" {
                            split_decl(rest)?
                        } else {
                            (Vec::new(), rest)
                        };
                        let pipe = parse_pipe(rest)?;
                        let (body, end) = parse_list(it)?;
                        let alt = match end.as_deref() {
                            Some("end") => Vec::new(),
                            Some("else") => match parse_list(it)? {
                                (alt, Some(e)) if e == "end" => alt,
                                _ => return Err(format!("template: {kw} without {{{{end}}}}")),
                            },
                            _ => return Err(format!("template: {kw} without {{{{end}}}}")),
                        };
                        nodes.push(match kw {
                            "if" => Node::If(pipe, body, alt),
                            "range" => Node::Range(decl, pipe, body, alt),
                            _ => Node::With(pipe, body, alt),
                        });
                    }
                    _ => {
                        let (decl, rest) = split_decl(&a)?;
                        nodes.push(Node::Action(decl, parse_pipe(rest)?))
                    }
                }
            }
        }
    }
    Ok((nodes, None))
}

fn parse_pipe(s: &str) -> Result<Pipe, String> {
    let toks = tokenize(s)?;
    let mut pos = 0;
    let pipe = pipe_from(&toks, &mut pos)?;
    if pos != toks.len() {
        return Err(format!("template: unexpected {:?} in {s:?}", toks[pos]));
    }
    if pipe.is_empty() || pipe.iter().any(Vec::is_empty) {
        return Err(format!("template: empty command in {s:?}"));
    }
    Ok(pipe)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Pipe,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err(format!("template: unterminated string in {s:?}")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match c.get(i) {
                                Some('n') => v.push('\n'),
                                Some('t') => v.push('\t'),
                                Some(&x) => v.push(x),
                                None => {
                                    return Err(format!("template: unterminated string in {s:?}"))
                                }
                            }
                        }
                        Some(&x) => v.push(x),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Str(v));
            }
            '`' => {
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .ok_or_else(|| format!("template: unterminated raw string in {s:?}"))?;
                toks.push(Tok::Str(c[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < c.len() && !" \t\n|()\"".contains(c[i]) {
                    i += 1;
                }
                toks.push(Tok::Word(c[start..i].iter().collect()));
            }
        }
    }
    Ok(toks)
}

fn pipe_from(toks: &[Tok], pos: &mut usize) -> Result<Pipe, String> {
    let mut pipe = vec![Vec::new()];
    while *pos < toks.len() {
        let t = &toks[*pos];
        *pos += 1;
        let arg = match t {
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Pipe => {
                pipe.push(Vec::new());
                continue;
            }
            Tok::Open => {
                let sub = pipe_from(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::Close) {
                    return Err("template: unclosed (".into());
                }
                *pos += 1;
                Arg::Sub(sub)
            }
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Word(w) => word(w)?,
        };
        pipe.last_mut().unwrap().push(arg);
    }
    Ok(pipe)
}

/// `$a, $b := rest` into (["$a", "$b"], rest); no `:=`: nothing declared.
fn split_decl(a: &str) -> Result<(Vec<String>, &str), String> {
    let Some((lhs, rhs)) = a.split_once(":=") else {
        return Ok((Vec::new(), a));
    };
    let vars: Vec<String> = lhs.split(',').map(|v| v.trim().to_string()).collect();
    if vars.is_empty()
        || vars.len() > 2
        || !vars.iter().all(|v| {
            v.len() > 1
                && v.starts_with('$')
                && v[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    {
        return Err(format!("template: bad variable declaration {lhs:?}"));
    }
    Ok((vars, rhs.trim()))
}

fn word(w: &str) -> Result<Arg, String> {
    if let Some(rest) = w.strip_prefix('$') {
        let (name, path) = match rest.split_once('.') {
            Some((n, p)) => (n, p.split('.').map(str::to_string).collect()),
            None => (rest, Vec::new()),
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("template: bad variable {w:?}"));
        }
        return Ok(Arg::Var(format!("${name}"), path));
    }
    if w == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    if let Some(path) = w.strip_prefix('.') {
        return Ok(Arg::Field(path.split('.').map(str::to_string).collect()));
    }
    match w {
        "true" => return Ok(Arg::Bool(true)),
        "false" => return Ok(Arg::Bool(false)),
        _ => {}
    }
    if let Ok(n) = w.parse::<f64>() {
        return Ok(Arg::Num(n));
    }
    if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(Arg::Func(w.to_string()));
    }
    Err(format!("template: unexpected {w:?}"))
}
