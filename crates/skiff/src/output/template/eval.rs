//! Running a parsed template over a JSON value: fields and variables
//! looked up, functions called, values printed as Go prints them.

use super::{Arg, Node, Pipe, OPTS, VARS};
use serde_json::Value;

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

pub(super) fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
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
