//! `-o json|yaml|name|wide|jsonpath=`: documents as kubectl prints them
//! (keys sorted, JSON indented by four spaces, several objects as a `List`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Table { wide: bool },
    Name,
    Json,
    Yaml,
    JsonPath(String),
}

impl Format {
    pub fn parse(o: Option<&str>) -> Result<Format, String> {
        Ok(match o {
            None | Some("") => Format::Table { wide: false },
            Some("wide") => Format::Table { wide: true },
            Some("name") => Format::Name,
            Some("json") => Format::Json,
            Some("yaml") => Format::Yaml,
            Some(o) if o.starts_with("jsonpath=") => Format::JsonPath(o["jsonpath=".len()..].to_string()),
            Some(o) => {
                return Err(format!(
                    "unable to match a printer suitable for the output format \"{o}\", allowed formats are: json,jsonpath,name,wide,yaml"
                ))
            }
        })
    }
}

/// Several objects as kubectl's `List`.
pub fn list(items: Vec<Value>) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    })
}

/// Keys sorted at every level, as kubectl's output has them.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

pub fn render(f: &Format, doc: &Value) -> Result<String, String> {
    let doc = sorted(doc);
    match f {
        Format::Json => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&doc, &mut ser).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&buf).into_owned() + "\n")
        }
        Format::Yaml => serde_norway::to_string(&doc).map_err(|e| e.to_string()),
        Format::JsonPath(t) => jsonpath(t, &doc),
        _ => Ok(String::new()),
    }
}

/// The part of kubectl's JSONPath templates that scripts use: text,
/// `{.a.b[0].c}`, `[*]`, `{range PATH}...{end}`, `{"\n"}` literals.
pub fn jsonpath(template: &str, doc: &Value) -> Result<String, String> {
    let tokens = tokenize(template)?;
    let mut out = String::new();
    let mut i = 0;
    eval(&tokens, &mut i, doc, doc, &mut out)?;
    Ok(out)
}

#[derive(Debug, Clone)]
enum Token {
    Text(String),
    Expr(String),
}

fn tokenize(t: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        if start > 0 {
            out.push(Token::Text(rest[..start].to_string()));
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("error parsing jsonpath {t}, unclosed action"))?;
        out.push(Token::Expr(rest[start + 1..start + end].trim().to_string()));
        rest = &rest[start + end + 1..];
    }
    if !rest.is_empty() {
        out.push(Token::Text(rest.to_string()));
    }
    Ok(out)
}

/// Evaluate tokens from `*i` until the end (or an `end`), with `cur` as `@`.
fn eval(
    tokens: &[Token],
    i: &mut usize,
    root: &Value,
    cur: &Value,
    out: &mut String,
) -> Result<(), String> {
    while *i < tokens.len() {
        let t = tokens[*i].clone();
        *i += 1;
        match t {
            Token::Text(s) => out.push_str(&s),
            Token::Expr(e) if e == "end" => return Ok(()),
            Token::Expr(e) if e.starts_with("range ") => {
                let items = select(root, cur, e["range ".len()..].trim())?;
                let body_start = *i;
                if items.is_empty() {
                    // Skip the body.
                    let mut sink = String::new();
                    eval(tokens, i, root, &Value::Null, &mut sink)?;
                }
                for item in &items {
                    *i = body_start;
                    eval(tokens, i, root, item, out)?;
                }
            }
            Token::Expr(e) if e.starts_with('"') => {
                let s: String = serde_json::from_str(&e).map_err(|_| format!("bad literal {e}"))?;
                out.push_str(&s);
            }
            Token::Expr(e) => {
                let vals = select(root, cur, &e)?;
                let shown: Vec<String> = vals
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                out.push_str(&shown.join(" "));
            }
        }
    }
    Ok(())
}

/// The values a path selects: `.a.b`, `[0]`, `[*]`, `$` the root, `@` the
/// current item.
fn select(root: &Value, cur: &Value, path: &str) -> Result<Vec<Value>, String> {
    let (mut vals, mut rest) = if let Some(r) = path.strip_prefix('$') {
        (vec![root.clone()], r)
    } else if let Some(r) = path.strip_prefix('@') {
        (vec![cur.clone()], r)
    } else {
        (vec![cur.clone()], path)
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            if key.is_empty() {
                continue;
            }
            vals = vals.iter().filter_map(|v| v.get(key).cloned()).collect();
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| format!("unterminated [ in {path}"))?;
            let idx = &r[..end];
            rest = &r[end + 1..];
            vals = if let Some(f) = idx.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                let items = vals.iter().flat_map(|v| match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                });
                let mut kept = Vec::new();
                for item in items {
                    if filter(root, &item, f)? {
                        kept.push(item);
                    }
                }
                kept
            } else if idx == "*" {
                vals.iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a.clone(),
                        Value::Object(m) => m.values().cloned().collect(),
                        _ => vec![],
                    })
                    .collect()
            } else {
                let n: i64 = idx
                    .parse()
                    .map_err(|_| format!("bad index {idx} in {path}"))?;
                vals.iter()
                    .filter_map(|v| {
                        let a = v.as_array()?;
                        let k = if n < 0 { a.len() as i64 + n } else { n };
                        a.get(usize::try_from(k).ok()?).cloned()
                    })
                    .collect()
            };
        } else {
            return Err(format!("unrecognized character in action: {path}"));
        }
    }
    Ok(vals)
}

/// A filter `@.path`, `@.path==LITERAL` or `@.path!=LITERAL` (a quoted
/// string or a number) on one item.
fn filter(root: &Value, item: &Value, f: &str) -> Result<bool, String> {
    let (path, op, lit) = match f
        .find("==")
        .map(|i| (i, true))
        .or(f.find("!=").map(|i| (i, false)))
    {
        Some((i, eq)) => (f[..i].trim(), Some(eq), f[i + 2..].trim()),
        None => (f.trim(), None, ""),
    };
    let got = select(root, item, path)?;
    let Some(eq) = op else {
        return Ok(!got.is_empty());
    };
    let want = if let Some(s) = lit
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
        .or_else(|| lit.strip_prefix('"').and_then(|l| l.strip_suffix('"')))
    {
        Value::String(s.to_string())
    } else {
        serde_json::from_str(lit).map_err(|_| format!("bad literal {lit} in filter {f}"))?
    };
    let same = got.first() == Some(&want);
    Ok(same == eq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_as_scripts_use_it() {
        let doc = json!({"items": [{"metadata": {"name": "a"}, "status": {"phase": "Running"}},
                                   {"metadata": {"name": "b"}, "status": {"phase": "Pending"}}]});
        assert_eq!(jsonpath("{.items[*].metadata.name}", &doc).unwrap(), "a b");
        assert_eq!(
            jsonpath("{.items[1].status.phase}", &doc).unwrap(),
            "Pending"
        );
        assert_eq!(
            jsonpath(
                "{range .items[*]}{.metadata.name}={.status.phase}{\"\\n\"}{end}",
                &doc
            )
            .unwrap(),
            "a=Running\nb=Pending\n"
        );
        assert_eq!(jsonpath("n={.items[5].x}", &doc).unwrap(), "n=");
        assert_eq!(
            jsonpath(
                "{.items[?(@.status.phase==\"Pending\")].metadata.name}",
                &doc
            )
            .unwrap(),
            "b"
        );
        assert_eq!(
            jsonpath("{.items[?(@.metadata.name!='b')].status.phase}", &doc).unwrap(),
            "Running"
        );
        assert_eq!(
            jsonpath("{.items[?(@.nope)].metadata.name}", &doc).unwrap(),
            ""
        );
    }
}
