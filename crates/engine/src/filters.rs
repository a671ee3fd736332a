//! Docker's list filters (`--filter key=value`, the API's `filters` JSON),
//! with Docker's rules: the values given for one key are alternatives (any
//! may match), different keys must all match, and each `label` value is a
//! condition of its own (all must match). Which keys a list takes is checked
//! by that list.

use crate::{Error, Result};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    map: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Filters from `key=value` arguments.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Filters> {
        let mut f = Filters::default();
        for a in args {
            let a = a.as_ref();
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("Invalid filter '{a}'")))?;
            f.add(k, v);
        }
        Ok(f)
    }

    /// Filters as the Docker API sends them: `{"key": {"value": true}}` or
    /// the older `{"key": ["value"]}`; an empty text is no filter.
    pub fn from_json(text: &str) -> Result<Filters> {
        let mut f = Filters::default();
        if text.trim().is_empty() {
            return Ok(f);
        }
        let bad = |e: String| Error::Invalid(format!("invalid filter {text:?}: {e}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("not an object".into()))?;
        for (k, vals) in obj {
            match vals {
                serde_json::Value::Object(m) => {
                    for (val, on) in m {
                        if on.as_bool() != Some(false) {
                            f.add(k, val);
                        }
                    }
                }
                serde_json::Value::Array(a) => {
                    for val in a {
                        let s = val
                            .as_str()
                            .ok_or_else(|| bad(format!("{k}: not a string")))?;
                        f.add(k, s);
                    }
                }
                _ => return Err(bad(format!("{k}: not a list"))),
            }
        }
        Ok(f)
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.map
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Refuse a key this list does not take, with Docker's words.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::Invalid(format!("Invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// The values given for `key`.
    pub fn get(&self, key: &str) -> &[String] {
        self.map.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Whether `key` holds: no value given, or `f` holds for one of them.
    pub fn matches(&self, key: &str, f: impl Fn(&str) -> bool) -> bool {
        match self.map.get(key) {
            None => true,
            Some(vals) => vals.iter().any(|v| f(v)),
        }
    }

    /// Whether every `label` filter (`KEY` or `KEY=VALUE`) holds for `labels`.
    pub fn match_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.get("label").iter().all(|l| match l.split_once('=') {
            Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
            None => labels.contains_key(l.as_str()),
        })
    }

    /// The filter's `true`/`false` value for `key` (`dangling=true`), if given;
    /// an error for anything else.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            [] => Ok(None),
            vals => {
                let mut out = None;
                for v in vals {
                    let b = match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(Error::Invalid(format!("Invalid filter '{key}={v}'"))),
                    };
                    out = Some(b);
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_any_value_all_keys_every_label() {
        let f =
            Filters::parse(&["status=exited", "status=created", "label=a", "label=b=2"]).unwrap();
        assert!(f.matches("status", |v| v == "created"));
        assert!(!f.matches("status", |v| v == "running"));
        assert!(f.matches("name", |_| false), "no name filter: all match");
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "x".to_string());
        assert!(!f.match_labels(&labels), "label b=2 missing");
        labels.insert("b".to_string(), "2".to_string());
        assert!(f.match_labels(&labels));
        assert!(f.check_keys(&["status", "label"]).is_ok());
        let e = f.check_keys(&["status"]).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'label'");
        assert!(Filters::parse(&["nokey"]).is_err());
    }

    #[test]
    fn the_apis_two_json_shapes() {
        let a =
            Filters::from_json(r#"{"status":{"running":true,"paused":true},"label":{"x=1":true}}"#)
                .unwrap();
        assert_eq!(a.get("status"), ["running", "paused"]);
        assert_eq!(a.get("label"), ["x=1"]);
        let b = Filters::from_json(r#"{"name":["web"]}"#).unwrap();
        assert_eq!(b.get("name"), ["web"]);
        assert!(Filters::from_json("").unwrap().is_empty());
        assert!(Filters::from_json("[1]").is_err());
        assert_eq!(
            Filters::parse(&["dangling=true"])
                .unwrap()
                .bool_value("dangling")
                .unwrap(),
            Some(true)
        );
        assert!(Filters::parse(&["dangling=maybe"])
            .unwrap()
            .bool_value("dangling")
            .is_err());
    }
}
