//! The device allow-list (`linux.resources.devices`): parsing the rules and
//! applying them, as `devices.allow`/`devices.deny` lines where a v1 devices
//! hierarchy exists, otherwise as an eBPF program on the unified cgroup
//! (see `bpf`).
//!
//! The rules are applied in order, so a list starting with "deny all"
//! (`{"allow": false, "access": "rwm"}`) first resets the cgroup to deny
//! everything and then opens what follows, as runc does. The runtime's
//! default devices (`/dev/null` & co.) must be in the list given here.

use std::path::Path;

use super::manager::Target;
use super::{bpf, write, CgroupError, Manager};
use crate::spec::DeviceCgroup;

/// Access bits, numbered as the kernel's `BPF_DEVCG_ACC_*`.
pub(super) const ACC_MKNOD: u32 = 1;
pub(super) const ACC_READ: u32 = 2;
pub(super) const ACC_WRITE: u32 = 4;
pub(super) const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// A device type, numbered as the kernel's `BPF_DEVCG_DEV_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Block = 1,
    Char = 2,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Block => 'b',
            Kind::Char => 'c',
        }
    }
}

/// One checked device rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rule {
    pub allow: bool,
    /// `None`: all types (`a`).
    pub kind: Option<Kind>,
    /// `None`: any (`*`).
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u32,
}

impl Rule {
    pub fn parse(d: &DeviceCgroup) -> Result<Rule, CgroupError> {
        let bad = |what: &str, value: String, reason: &str| CgroupError::InvalidValue {
            what: format!("device rule {what}"),
            value,
            reason: reason.into(),
        };
        let kind = match d.typ.as_deref() {
            None | Some("a") | Some("") => None,
            Some("c") | Some("u") => Some(Kind::Char),
            Some("b") => Some(Kind::Block),
            Some(other) => return Err(bad("type", other.into(), "expected a, b or c")),
        };
        let number = |what: &str, v: Option<i64>| match v {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None),
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|&n| n <= i32::MAX as u32)
                .map(Some)
                .ok_or_else(|| bad(what, n.to_string(), "out of range")),
        };
        let access = match d.access.as_deref() {
            None | Some("") => ACC_ALL,
            Some(s) => s.chars().try_fold(0, |acc, c| match c {
                'r' => Ok(acc | ACC_READ),
                'w' => Ok(acc | ACC_WRITE),
                'm' => Ok(acc | ACC_MKNOD),
                _ => Err(bad("access", s.into(), "expected letters from \"rwm\"")),
            })?,
        };
        Ok(Rule {
            allow: d.allow,
            kind,
            major: number("major", d.major)?,
            minor: number("minor", d.minor)?,
            access,
        })
    }

    /// Whether the rule covers every device and every access.
    pub fn is_everything(&self) -> bool {
        self.kind.is_none()
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    /// The v1 file and lines: `a *:* rwm` for everything, otherwise one line
    /// per device type (the kernel reads a bare `a` as "everything", so a
    /// narrower all-types rule becomes a `c` and a `b` line).
    pub fn v1_lines(&self) -> (&'static str, Vec<String>) {
        let file = if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        if self.is_everything() {
            return (file, vec!["a *:* rwm".to_string()]);
        }
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let mut access = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(c);
            }
        }
        let kinds = match self.kind {
            Some(k) => vec![k],
            None => vec![Kind::Char, Kind::Block],
        };
        let lines = kinds
            .into_iter()
            .map(|k| {
                format!(
                    "{} {}:{} {access}",
                    k.letter(),
                    num(self.major),
                    num(self.minor)
                )
            })
            .collect();
        (file, lines)
    }
}

/// Apply `rules`: v1 lines in the devices hierarchy, else an eBPF filter on
/// the unified cgroup.
pub(super) fn apply(m: &Manager, rules: &[DeviceCgroup]) -> Result<(), CgroupError> {
    let rules = rules
        .iter()
        .map(Rule::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if let Ok(Target::V1(dir)) = m.target("devices", "devices", "") {
        return apply_v1(dir, &rules);
    }
    match m.unified_dir() {
        Some(dir) => bpf::install(dir, &bpf::program(&rules)),
        None => Err(CgroupError::MissingController {
            controller: "devices".into(),
            what: "a device rule".into(),
        }),
    }
}

fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    for rule in rules {
        let (file, lines) = rule.v1_lines();
        for line in lines {
            write(dir, file, &line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: Option<&str>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: typ.map(str::to_string),
            major,
            minor,
            access: access.map(str::to_string),
        }
    }

    #[test]
    fn v1_lines() {
        let lines = |d| {
            let (file, lines) = Rule::parse(&d).unwrap().v1_lines();
            format!("{file}: {}", lines.join(" | "))
        };
        assert_eq!(
            lines(rule(false, None, None, None, Some("rwm"))),
            "devices.deny: a *:* rwm"
        );
        assert_eq!(
            lines(rule(false, Some("a"), Some(-1), Some(-1), None)),
            "devices.deny: a *:* rwm"
        );
        assert_eq!(
            lines(rule(true, Some("c"), Some(1), Some(3), Some("rwm"))),
            "devices.allow: c 1:3 rwm"
        );
        assert_eq!(
            lines(rule(true, Some("c"), Some(136), None, Some("mwr"))),
            "devices.allow: c 136:* rwm"
        );
        assert_eq!(
            lines(rule(true, Some("b"), Some(-1), Some(0), Some("r"))),
            "devices.allow: b *:0 r"
        );
        assert_eq!(
            lines(rule(false, None, Some(5), None, Some("w"))),
            "devices.deny: c 5:* w | b 5:* w"
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let e = Rule::parse(&rule(true, Some("x"), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("type") && e.contains("\"x\""), "{e}");
        let e = Rule::parse(&rule(true, None, None, None, Some("rwx")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("access") && e.contains("\"rwx\""), "{e}");
        let e = Rule::parse(&rule(true, None, Some(1 << 40), None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("major"), "{e}");
    }
}
