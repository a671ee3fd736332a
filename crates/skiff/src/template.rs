//! Go's text/template, the part Docker users write in `--format`/`-f`, over a
//! JSON value: `{{.A.B}}`, `{{.}}`, `{{json .X}}`, `{{index .X "k" 0}}`,
//! `{{join .X ", "}}`, `{{len .X}}`, `{{upper .X}}`, `{{lower .X}}`,
//! `{{split .X ":"}}`, `{{printf "%s-%d" .A .B}}`, `{{eq .A "x"}}`, `ne`, `not`,
//! `and`, `or`, pipelines (`{{.X | json}}`), parentheses, string and number
//! literals, `{{if}}`/`{{else}}`/`{{end}}`, `{{range}}` (with `{{else}}`),
//! `{{with}}`, and the `{{-`/`-}}` trim markers. Values print as Go prints
//! them: integral numbers without a fraction, `map[k:v]` for objects,
//! `[a b]` for arrays, `<no value>` for a missing field.

use serde_json::Value;

/// Render `tmpl` with `data` as the dot.
pub fn render(tmpl: &str, data: &Value) -> Result<String, String> {
    render_with(tmpl, data, &Options::default())
}

/// How a document's gaps render.
#[derive(Default)]
pub struct Options {
    /// A missing map key is an error (`map has no entry for key "X"`), as
    /// for Docker's `inspect -f`; else it prints `<no value>`.
    pub missing_key_error: bool,
    /// What a null under this key stands for in the Go struct: `"[]"` (a
    /// nil slice), `"map[]"` (a nil map), `""` (an empty string); None
    /// keeps `<nil>`.
    pub null_as: Option<NullAs>,
}

/// See [`Options::null_as`].
pub type NullAs = fn(&str) -> Option<&'static str>;

thread_local! {
    static VARS: std::cell::RefCell<Vec<(String, Value)>> = const { std::cell::RefCell::new(Vec::new()) };
    static OPTS: std::cell::RefCell<(bool, Option<NullAs>)> =
        const { std::cell::RefCell::new((false, None)) };
}

/// [`render`] with options.
pub fn render_with(tmpl: &str, data: &Value, o: &Options) -> Result<String, String> {
    let nodes = parse(tmpl)?;
    let mut out = String::new();
    VARS.with(|v| *v.borrow_mut() = vec![("$".into(), data.clone())]);
    OPTS.with(|x| *x.borrow_mut() = (o.missing_key_error, o.null_as));
    let r = exec(&nodes, data, &mut out);
    VARS.with(|v| v.borrow_mut().clear());
    OPTS.with(|x| *x.borrow_mut() = (false, None));
    r?;
    Ok(out)
}

fn var_get(name: &str) -> Option<Value> {
    VARS.with(|v| {
        v.borrow()
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, x)| x.clone())
    })
}

fn var_push(name: &str, val: Value) {
    VARS.with(|v| v.borrow_mut().push((name.to_string(), val)));
}

fn vars_len() -> usize {
    VARS.with(|v| v.borrow().len())
}

fn vars_truncate(n: usize) {
    VARS.with(|v| v.borrow_mut().truncate(n));
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    /// An action; with variables (`$x := ...`) it declares and prints nothing.
    Action(Vec<String>, Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    /// `range [$k, $v :=] pipe`.
    Range(Vec<String>, Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// Commands separated by `|`; each command's result is the last argument
/// of the next.
type Pipe = Vec<Vec<Arg>>;

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty path: the dot itself).
    Field(Vec<String>),
    /// `$`, `$x`, `$x.A.B`.
    Var(String, Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipe),
}

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

fn parse(tmpl: &str) -> Result<Vec<Node>, String> {
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

// --- execution ---------------------------------------------------------------

fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(decl, p) => {
                let v = eval_pipe(p, dot)?;
                if decl.is_empty() {
                    out.push_str(&print(&v));
                } else {
                    var_push(&decl[0], v);
                }
            }
            Node::If(p, body, alt) => {
                let v = eval_pipe(p, dot)?;
                exec(if truthy(&v) { body } else { alt }, dot, out)?;
            }
            Node::With(p, body, alt) => {
                let v = eval_pipe(p, dot)?;
                if truthy(&v) {
                    exec(body, &v, out)?;
                } else {
                    exec(alt, dot, out)?;
                }
            }
            Node::Range(decl, p, body, alt) => {
                let v = eval_pipe(p, dot)?;
                // (key, value) pairs: indexes of a slice, keys of a map in
                // key order, as Go ranges.
                let items: Vec<(Value, Value)> = match v {
                    Value::Array(a) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Value::from(i), x))
                        .collect(),
                    Value::Object(m) => {
                        let mut kv: Vec<_> = m.into_iter().collect();
                        kv.sort_by(|a, b| a.0.cmp(&b.0));
                        kv.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                    }
                    Value::Null => Vec::new(),
                    Value::String(s) if nil_kind(&s).is_some() => Vec::new(),
                    other => {
                        return Err(format!(
                            "template: range can't iterate over {}",
                            print(&other)
                        ))
                    }
                };
                if items.is_empty() {
                    exec(alt, dot, out)?;
                }
                for (k, item) in &items {
                    let mark = vars_len();
                    match decl.as_slice() {
                        [v] => var_push(v, item.clone()),
                        [kname, vname] => {
                            var_push(kname, k.clone());
                            var_push(vname, item.clone());
                        }
                        _ => {}
                    }
                    let r = exec(body, item, out);
                    vars_truncate(mark);
                    r?;
                }
            }
        }
    }
    Ok(())
}

/// A missing field: Go prints `<no value>` for a missing map key.
const NO_VALUE: &str = "\u{0}<no value>";

/// A null that stands for a nil slice or map of the Go struct: prints as
/// `[]`/`map[]`, encodes as null.
const NIL_PREFIX: &str = "\u{0}nil:";

fn nil_kind(s: &str) -> Option<&str> {
    s.strip_prefix(NIL_PREFIX)
}

/// Follow `path` from `v`.
fn walk(v: &Value, path: &[String]) -> Result<Value, String> {
    let (missing_err, null_as) = OPTS.with(|o| *o.borrow());
    let mut v = v;
    for k in path {
        match v {
            Value::Object(m) => match m.get(k) {
                Some(x) => v = x,
                // A field the Go struct has though the document leaves it out.
                None if null_as.and_then(|f| f(k)).is_some() => {
                    return Ok(typed_null(null_as.and_then(|f| f(k))))
                }
                None if missing_err => return Err(format!("map has no entry for key \"{k}\"")),
                None => return Ok(Value::String(NO_VALUE.into())),
            },
            Value::Null => return Ok(Value::String(NO_VALUE.into())),
            _ => {
                return Err(format!(
                    "template: can't evaluate field {k} in type {}",
                    kind(v)
                ))
            }
        }
    }
    if let (Some(f), Some(last)) = (null_as, path.last()) {
        if v.is_null() {
            return Ok(typed_null(f(last)));
        }
        // A time.Time of the Go struct prints in Go's own format.
        if let (Some("time"), Value::String(s)) = (f(last), v) {
            if let Some(t) = go_time(s) {
                return Ok(Value::String(t));
            }
        }
    }
    Ok(v.clone())
}

/// `2026-11-22T06:32:11.2007Z` as Go prints a time.Time:
/// `2026-11-22 06:32:11.2007 +0000 UTC`.
pub fn go_time(rfc3339: &str) -> Option<String> {
    let s = rfc3339.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let (hms, frac) = match time.split_once('.') {
        Some((h, f)) => (h, f.trim_end_matches('0')),
        None => (time, ""),
    };
    if date.len() != 10 || hms.len() != 8 {
        return None;
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date} {hms}{frac} +0000 UTC"))
}

/// What a null prints as, by the Go type behind it.
fn typed_null(shown: Option<&str>) -> Value {
    match shown {
        Some("") => Value::String(String::new()),
        Some("<nil>") | None => Value::Null,
        Some(shown) => Value::String(format!("{NIL_PREFIX}{shown}")),
    }
}

fn eval_pipe(p: &Pipe, dot: &Value) -> Result<Value, String> {
    let mut prev: Option<Value> = None;
    for cmd in p {
        prev = Some(eval_cmd(cmd, dot, prev)?);
    }
    Ok(prev.unwrap_or(Value::Null))
}

fn eval_arg(a: &Arg, dot: &Value) -> Result<Value, String> {
    Ok(match a {
        Arg::Field(path) => walk(dot, path)?,
        Arg::Var(name, path) => {
            let base =
                var_get(name).ok_or_else(|| format!("template: undefined variable {name:?}"))?;
            walk(&base, path)?
        }
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Num(n) => num(*n),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Sub(p) => eval_pipe(p, dot)?,
        Arg::Func(f) => call(f, Vec::new())?,
    })
}

fn eval_cmd(cmd: &[Arg], dot: &Value, prev: Option<Value>) -> Result<Value, String> {
    match &cmd[0] {
        Arg::Func(f) => {
            let mut args = cmd[1..]
                .iter()
                .map(|a| eval_arg(a, dot))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(prev);
            call(f, args)
        }
        a if cmd.len() == 1 && prev.is_none() => eval_arg(a, dot),
        _ => Err("template: can't give arguments to a non-function".into()),
    }
}

fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty() && s != NO_VALUE && nil_kind(s).is_none(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) if s == NO_VALUE => String::new(),
        Value::String(s) if nil_kind(s).is_some() => nil_kind(s).unwrap_or("").to_string(),
        Value::String(s) => s.clone(),
        other => print(other),
    }
}

fn call(f: &str, args: Vec<Value>) -> Result<Value, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "template: wrong number of args for {f}: want {n} got {}",
                args.len()
            ))
        }
    };
    Ok(match f {
        "json" => {
            want(1)?;
            let v = match &args[0] {
                Value::String(s) if s == NO_VALUE || nil_kind(s).is_some() => Value::Null,
                v => v.clone(),
            };
            Value::String(serde_json::to_string(&v).map_err(|e| e.to_string())?)
        }
        "index" => {
            let mut it = args.into_iter();
            let mut v = it.next().ok_or("template: index of nothing")?;
            for k in it {
                v = match (&v, &k) {
                    (Value::Object(m), _) => m.get(&str_of(&k)).cloned().unwrap_or(Value::Null),
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_u64().ok_or("template: index out of range")? as usize;
                        a.get(i)
                            .cloned()
                            .ok_or_else(|| format!("template: index out of range: {i}"))?
                    }
                    _ => return Err(format!("template: can't index item of type {}", kind(&v))),
                };
            }
            v
        }
        "len" => {
            want(1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                Value::String(s) if nil_kind(s).is_some() => 0,
                Value::String(s) => s.len(),
                other => return Err(format!("template: len of type {}", kind(other))),
            })
        }
        "join" => {
            want(2)?;
            let items = match &args[0] {
                Value::Array(a) => a.iter().map(str_of).collect::<Vec<_>>(),
                Value::Null => Vec::new(),
                other => vec![str_of(other)],
            };
            Value::String(items.join(&str_of(&args[1])))
        }
        "split" => {
            want(2)?;
            Value::Array(
                str_of(&args[0])
                    .split(&str_of(&args[1]))
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        "upper" => {
            want(1)?;
            Value::String(str_of(&args[0]).to_uppercase())
        }
        "lower" => {
            want(1)?;
            Value::String(str_of(&args[0]).to_lowercase())
        }
        "title" => {
            want(1)?;
            let s = str_of(&args[0]);
            let mut c = s.chars();
            Value::String(match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            })
        }
        "println" => Value::String(args.iter().map(str_of).collect::<Vec<_>>().join(" ") + "\n"),
        "print" => Value::String(args.iter().map(str_of).collect::<String>()),
        "printf" => {
            let mut it = args.iter();
            let fmt = str_of(it.next().ok_or("template: printf without a format")?);
            Value::String(printf(&fmt, it.collect())?)
        }
        "eq" | "ne" => {
            want(2)?;
            let same = match (&args[0], &args[1]) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                (a, b) => a == b,
            };
            Value::Bool(same == (f == "eq"))
        }
        "not" => {
            want(1)?;
            Value::Bool(!truthy(&args[0]))
        }
        "and" => args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        "or" => args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        _ => return Err(format!("template: function {f:?} not defined")),
    })
}

fn printf(fmt: &str, args: Vec<&Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'v' | 'd') => out.push_str(&str_of(args.next().unwrap_or(&Value::Null))),
            Some('q') => out.push_str(
                &serde_json::to_string(&str_of(args.next().unwrap_or(&Value::Null)))
                    .unwrap_or_default(),
            ),
            Some(o) => return Err(format!("template: printf verb %{o} not supported")),
            None => out.push('%'),
        }
    }
    Ok(out)
}

/// Go's `%v` of a decoded JSON value.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) if s == NO_VALUE => "<no value>".into(),
        Value::String(s) if nil_kind(s).is_some() => nil_kind(s).unwrap_or("").to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut kv: Vec<_> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "map[{}]",
                kv.iter()
                    .map(|(k, v)| format!("{k}:{}", print(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        render(t, v).unwrap()
    }

    #[test]
    fn fields_json_index_and_go_printing() {
        let v = json!({
            "Id": "abc", "State": {"Pid": 42, "Running": true, "Status": "running"},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"x": "y", "com.ex": "z"}, "Cmd": null},
            "Size": 1.5,
        });
        assert_eq!(
            r("{{.Id}} {{.State.Pid}} {{.State.Running}}", &v),
            "abc 42 true"
        );
        assert_eq!(r("{{.Config.Env}}", &v), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}", &v), "map[com.ex:z x:y]");
        assert_eq!(r("{{json .Config.Env}}", &v), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{.Config.Env | json}}", &v), r#"["A=1","B=2"]"#);
        assert_eq!(r(r#"{{index .Config.Labels "com.ex"}}"#, &v), "z");
        assert_eq!(r("{{index .Config.Env 1}}", &v), "B=2");
        assert_eq!(r(r#"{{join .Config.Env ","}}"#, &v), "A=1,B=2");
        assert_eq!(r("{{len .Config.Env}}", &v), "2");
        assert_eq!(r("{{.Config.Cmd}}", &v), "<nil>");
        assert_eq!(r("{{json .Config.Cmd}}", &v), "null");
        assert_eq!(r("{{.Nope}}", &v), "<no value>");
        assert_eq!(r("{{.Size}}", &v), "1.5");
        assert_eq!(r("{{upper .State.Status}}", &v), "RUNNING");
        assert_eq!(r(r#"{{printf "%s:%d" .Id .State.Pid}}"#, &v), "abc:42");
        assert_eq!(r("{{json .}}", &json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(r("{{(index .Config.Env 0)}}", &v), "A=1");
    }

    #[test]
    fn control_flow_and_trim() {
        let v = json!({"Nets": {"b": {"IP": "10.0.0.2"}, "a": {"IP": "10.0.0.1"}}, "E": [], "On": false});
        assert_eq!(
            r("{{range .Nets}}{{.IP}} {{end}}", &v),
            "10.0.0.1 10.0.0.2 "
        );
        assert_eq!(r("{{range .E}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .On}}on{{else}}off{{end}}", &v), "off");
        assert_eq!(r(r#"{{if eq .Nets.a.IP "10.0.0.1"}}yes{{end}}"#, &v), "yes");
        assert_eq!(r("{{with .Nets.a}}{{.IP}}{{end}}", &v), "10.0.0.1");
        assert_eq!(r("a  {{- .On -}}  b", &v), "afalseb");
        assert_eq!(r("{{if not .On}}n{{end}}", &v), "n");
    }

    #[test]
    fn variables_and_go_typed_nulls() {
        let v = json!({"Name": "/web", "Labels": {"b": "2", "a": "1"}, "List": ["x", "y"],
                       "CapAdd": null, "Cmd": null});
        assert_eq!(
            r("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &v),
            "a=1;b=2;"
        );
        assert_eq!(
            r("{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}", &v),
            "0:x 1:y "
        );
        assert_eq!(r("{{range $e := .List}}{{$e}}{{end}}", &v), "xy");
        assert_eq!(r("{{$n := .Name}}[{{$n}}] {{$.Name}}", &v), "[/web] /web");
        let o = Options {
            missing_key_error: true,
            null_as: Some(|k| match k {
                "CapAdd" => Some("[]"),
                "StopSignal" => Some(""),
                _ => None,
            }),
        };
        assert_eq!(
            render_with("{{.CapAdd}}|{{json .CapAdd}}|{{.Cmd}}", &v, &o).unwrap(),
            "[]|null|<nil>"
        );
        assert_eq!(render_with("[{{.StopSignal}}]", &v, &o).unwrap(), "[]");
        let e = render_with("{{.Nope}}", &v, &o).unwrap_err();
        assert!(e.contains("map has no entry for key \"Nope\""), "{e}");
    }

    #[test]
    fn errors_name_the_problem() {
        let v = json!({"A": "x"});
        assert!(render("{{.A", &v).unwrap_err().contains("unclosed"));
        assert!(render("{{nosuch .A}}", &v)
            .unwrap_err()
            .contains("not defined"));
        assert!(render("{{if .A}}x", &v).unwrap_err().contains("end"));
        assert!(render("{{.A.B}}", &v)
            .unwrap_err()
            .contains("can't evaluate field B"));
        assert!(render("{{end}}", &v).unwrap_err().contains("unexpected"));
    }
}
