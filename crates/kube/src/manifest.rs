//! Manifests: the files `-f` names (a file, a directory, `-` for stdin), their
//! YAML or JSON documents (several per file, `---` apart; a `v1` `List`'s
//! items), and each document decoded as its kind, strictly. Every document
//! of every file is decoded before anything is applied, so a bad one leaves
//! nothing half-applied.

use crate::error::Error;
use crate::kinds::{Kind, TypeError};
use crate::object::{Object, Strictness};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One document of a manifest, not yet decoded.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from as the user named it (`-` for stdin).
    pub source: String,
    pub value: Value,
}

/// One decoded object with the file it came from.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub source: String,
    pub object: Object,
}

/// Read every document of `paths` (`-` is stdin; a directory's `.yaml`,
/// `.yml` and `.json` files in name order, its subdirectories' too when
/// `recursive`).
pub fn read(paths: &[String], recursive: bool) -> Result<Vec<Document>, Error> {
    let mut docs = Vec::new();
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::Read {
                    path: p.clone(),
                    msg: e.to_string(),
                })?;
            docs.extend(parse(&text, p)?);
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path).map_err(|e| Error::Read {
            path: p.clone(),
            msg: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file or directory".into()
            } else {
                e.to_string()
            },
        })?;
        let files = if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, recursive, &mut files).map_err(|e| Error::Read {
                path: p.clone(),
                msg: e.to_string(),
            })?;
            files
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let shown = f.display().to_string();
            let text = std::fs::read_to_string(&f).map_err(|e| Error::Read {
                path: shown.clone(),
                msg: e.to_string(),
            })?;
            docs.extend(parse(&text, &shown)?);
        }
    }
    Ok(docs)
}

fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            if recursive {
                walk(&e, recursive, out)?;
            }
        } else if matches!(
            e.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(e);
        }
    }
    Ok(())
}

/// The documents of one file's text (YAML, of which JSON is a part). Empty
/// documents are skipped; a `List`'s items are documents of their own.
pub fn parse(text: &str, source: &str) -> Result<Vec<Document>, Error> {
    let mut out = Vec::new();
    for de in serde_norway::Deserializer::from_str(text) {
        let value: Value =
            serde::Deserialize::deserialize(de).map_err(|e: serde_norway::Error| Error::Parse {
                file: source.to_string(),
                msg: e.to_string(),
            })?;
        match value {
            Value::Null => {}
            Value::Object(ref m)
                if m.get("kind").and_then(Value::as_str) == Some("List")
                    && m.get("apiVersion").and_then(Value::as_str) == Some("v1") =>
            {
                let items = m.get("items").and_then(Value::as_array).cloned();
                for item in items.unwrap_or_default() {
                    out.push(Document {
                        source: source.to_string(),
                        value: item,
                    });
                }
            }
            Value::Object(_) => out.push(Document {
                source: source.to_string(),
                value,
            }),
            other => {
                return Err(Error::Parse {
                    file: source.to_string(),
                    msg: format!(
                        "error unmarshaling JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        json_type(&other)
                    ),
                })
            }
        }
    }
    Ok(out)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "object",
    }
}

/// Decode every document; the first that fails is the error.
pub fn decode_all(docs: &[Document]) -> Result<Vec<Manifest>, Error> {
    docs.iter().map(decode).collect()
}

/// Decode one document as the kind it names.
pub fn decode(doc: &Document) -> Result<Manifest, Error> {
    let field = |k: &str| doc.value.get(k).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind_name) = (field("apiVersion"), field("kind"));
    let mut missing = Vec::new();
    if api_version.is_empty() {
        missing.push("apiVersion not set");
    }
    if kind_name.is_empty() {
        missing.push("kind not set");
    }
    if !missing.is_empty() {
        return Err(Error::MissingType {
            file: doc.source.clone(),
            missing: missing.join(", "),
        });
    }
    let meta = doc.value.get("metadata");
    let meta_str = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let kind = Kind::from_type(api_version, kind_name).map_err(|e| Error::NoMatch {
        file: doc.source.clone(),
        name: meta_str("name"),
        namespace: meta_str("namespace"),
        kind: kind_name.to_string(),
        version: api_version.to_string(),
        other_version: e == TypeError::NoVersion,
    })?;
    let object = Object::decode(kind, &doc.value).map_err(|s| Error::Strict {
        file: doc.source.clone(),
        kind,
        version: api_version.rsplit('/').next().unwrap_or("").to_string(),
        why: match s {
            Strictness::Unknown(fields) => {
                "strict decoding error: ".to_string()
                    + &fields
                        .iter()
                        .map(|f| format!("unknown field \"{f}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
            }
            Strictness::Invalid { path, msg } => format!("{path}: {msg}"),
        },
    })?;
    Ok(Manifest {
        source: doc.source.clone(),
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_empty_ones() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# nothing\n---\n\
            apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n";
        let docs = parse(text, "f.yaml").unwrap();
        let names: Vec<_> = decode_all(&docs)
            .unwrap()
            .iter()
            .map(|m| m.object.name().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn bad_documents_say_what_and_where() {
        let e = parse("a: b: c\n", "f.yaml").unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{e}");
        assert!(e.to_string().contains("f.yaml"), "{e}");
        let e = decode(&parse("kind: Pod\n", "f.yaml").unwrap()[0]).unwrap_err();
        assert!(e.to_string().contains("apiVersion not set"), "{e}");
        let e = decode(
            &parse(
                "apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n",
                "f.yaml",
            )
            .unwrap()[0],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("no matches for kind \"Widget\" in version \"v1\""),
            "{e}"
        );
    }
}
