//! Instruction flags (`--name`, `--name=value`), checked against the flags
//! each instruction knows, with Docker's messages and suggestions.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlagKind {
    Bool,
    Str,
    /// Repeatable: every value kept.
    Strings,
}

#[derive(Debug, Default)]
pub(super) struct Flags {
    bools: HashMap<&'static str, bool>,
    strs: HashMap<&'static str, String>,
    lists: HashMap<&'static str, Vec<String>>,
}

impl Flags {
    /// A boolean flag's value (false when not given).
    pub fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    /// A string flag's value; `None` when not given or given empty.
    pub fn string(&self, name: &str) -> Option<String> {
        self.strs.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// A string flag's value as given (possibly empty).
    pub fn given(&self, name: &str) -> Option<String> {
        self.strs.get(name).cloned()
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        self.lists.get(name).cloned().unwrap_or_default()
    }
}

/// Checks `args` (the `--` words of an instruction) against `known`.
pub(super) fn parse_flags(
    args: &[String],
    known: &[(&'static str, FlagKind)],
) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let mut used: Vec<&str> = Vec::new();
    for a in args {
        if a == "--" {
            break;
        }
        if !a.starts_with("--") {
            return Err(format!("arg should start with -- : {a}"));
        }
        let (flag_name, value) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a.as_str(), None),
        };
        let name = &flag_name[2..];
        let Some(&(key, kind)) = known.iter().find(|(k, _)| *k == name) else {
            let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
            return Err(suggest(
                format!("unknown flag: {flag_name}"),
                name,
                &names,
                true,
            ));
        };
        if used.contains(&key) && kind != FlagKind::Strings {
            return Err(format!("duplicate flag specified: {flag_name}"));
        }
        used.push(key);
        let missing = || format!("missing a value on flag: {flag_name}");
        match kind {
            FlagKind::Bool => {
                let v = match value {
                    Some("") => return Err(missing()),
                    None => true,
                    Some(v) => match v.to_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {v}"
                            ))
                        }
                    },
                };
                flags.bools.insert(key, v);
            }
            FlagKind::Str => {
                let v = value.ok_or_else(missing)?;
                flags.strs.insert(key, v.to_string());
            }
            FlagKind::Strings => {
                let v = value.ok_or_else(missing)?;
                flags.lists.entry(key).or_default().push(v.to_string());
            }
        }
    }
    Ok(flags)
}

/// `err` with ` (did you mean X?)` when one of `options` is close to `value`.
pub(super) fn suggest(err: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    match closest(value, options, case_sensitive) {
        Some(m) => format!("{err} (did you mean {m}?)"),
        None => err,
    }
}

fn closest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let val = fold(value);
    let mut best = None;
    let mut min = 3;
    for opt in options {
        let o = fold(opt);
        if o == val {
            return None;
        }
        let d = levenshtein(&val, &o);
        if d < min {
            min = d;
            best = Some(if case_sensitive {
                o
            } else {
                match_case(&o, value)
            });
        }
    }
    best
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(
            closest("RUm", &["RUN", "CMD"], false).as_deref(),
            Some("run")
        );
        assert_eq!(
            closest("RUNN", &["RUN", "CMD"], false).as_deref(),
            Some("RUN")
        );
        assert_eq!(
            closest("rnu", &["RUN", "CMD"], false).as_deref(),
            Some("run")
        );
        assert_eq!(closest("xyzzy", &["RUN"], false), None);
        assert_eq!(closest("run", &["RUN"], false), None);
    }
}
