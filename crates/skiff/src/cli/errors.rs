//! Command-line errors as Docker's client prints them.
//!
//! Docker's client parses flags with cobra and pflag; users (and their
//! scripts) know its messages and its exit codes: 125 for a flag it cannot
//! parse, 1 for a wrong number of arguments or an unknown command. clap finds
//! the same faults; this module words them as Docker does. The value parsers
//! here give the reasons pflag quotes (Go's `strconv` wording).

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, CommandFactory};

/// How a clap error is reported: the text for stderr and the exit code.
pub fn docker_style<C: CommandFactory>(e: &clap::Error, argv: &[String]) -> (String, i32) {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return (e.render().to_string(), 0);
    }
    // Every command's flags built (they are deferred until parsed), to
    // name them as Docker does.
    let mut root = C::command();
    root.build();
    let (path, cmd) = subcommand_of(&root, argv);
    let name = root.get_name().to_string();
    let see = format!("See '{name}{} --help'.", path_text(&path));
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand if path.is_empty() => {
            let what = ctx(ContextKind::InvalidSubcommand).unwrap_or_default();
            (
                format!("{name}: '{what}' is not a {name} command.\nSee '{name} --help'\n"),
                1,
            )
        }
        ErrorKind::UnknownArgument => {
            let typed = ctx(ContextKind::InvalidArg).unwrap_or_default();
            if typed.starts_with('-') && typed != "-" {
                (format!("{}\n{see}\n", unknown_flag(&typed)), 125)
            } else {
                // A word where the command takes no (more) arguments.
                (
                    arguments_error(&name, &path, cmd, "accepts no arguments"),
                    1,
                )
            }
        }
        ErrorKind::InvalidSubcommand => {
            // A group (`network`, `volume`) given a command it lacks: its
            // help, as Docker prints it.
            (
                cmd.clone()
                    .bin_name(format!("{name}{}", path_text(&path)))
                    .render_help()
                    .to_string(),
                1,
            )
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand => {
            let (min, max) = positionals(cmd);
            let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
            let want = match max {
                None => format!("requires at least {min} {}", plural(min)),
                Some(m) if m == min => format!("requires exactly {min} {}", plural(min)),
                Some(m) => format!("requires at least {min} and at most {m} {}", plural(m)),
            };
            (arguments_error(&name, &path, cmd, &want), 1)
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            let flag = flag_of(cmd, &arg);
            if e.kind() == ErrorKind::InvalidValue && value.is_empty() {
                return (format!("{}\n{see}\n", needs_argument(flag, argv)), 125);
            }
            let why = match std::error::Error::source(e) {
                Some(s) => s.to_string(),
                None => format!("invalid value {value:?}"),
            };
            (
                format!(
                    "invalid argument {value:?} for {:?} flag: {why}\n{see}\n",
                    flag_names(flag, &arg)
                ),
                125,
            )
        }
        _ => {
            let text = e.kind().as_str().map(str::to_string).unwrap_or_else(|| {
                let r = e.render().to_string();
                r.lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string()
            });
            (format!("{name}: {text}.\n{see}\n"), 125)
        }
    }
}

/// The subcommands named in `argv` (after global flags), and the innermost.
fn subcommand_of<'a>(root: &'a Command, argv: &[String]) -> (Vec<String>, &'a Command) {
    let mut cmd = root;
    let mut path = Vec::new();
    for w in argv.iter().skip(1) {
        if w.starts_with('-') {
            continue;
        }
        match cmd
            .get_subcommands()
            .find(|s| s.get_name() == w || s.get_all_aliases().any(|a| a == w))
        {
            Some(s) => {
                path.push(s.get_name().to_string());
                cmd = s;
            }
            // A global flag's value, or the command's first argument.
            None if path.is_empty() => continue,
            None => break,
        }
    }
    (path, cmd)
}

fn path_text(path: &[String]) -> String {
    path.iter().map(|p| format!(" {p}")).collect()
}

/// Docker's message for a wrong number of arguments, with the usage line.
fn arguments_error(name: &str, path: &[String], cmd: &Command, what: &str) -> String {
    let full = format!("{name}{}", path_text(path));
    let mut cmd = cmd.clone().bin_name(&full);
    let usage = cmd.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let about = about.trim_end_matches('.');
    format!("\"{full}\" {what}.\nSee '{full} --help'.\n\nUsage:  {usage}\n\n{about}\n")
}

/// The least and the most positional arguments a command takes (no most:
/// any number).
fn positionals(cmd: &Command) -> (usize, Option<usize>) {
    let (mut min, mut max) = (0, Some(0));
    for a in cmd.get_positionals() {
        let r = a.get_num_args();
        let (lo, hi) = r.map_or((1, 1), |r| (r.min_values().max(1), r.max_values()));
        if a.is_required_set() {
            min += lo;
        }
        max = match max {
            Some(m) if hi != usize::MAX => Some(m + hi),
            _ => None,
        };
    }
    if cmd.has_subcommands() && min == 0 {
        min = 1;
    }
    (min, max)
}

/// pflag's words for a flag it does not know.
pub fn unknown_flag(typed: &str) -> String {
    match typed.strip_prefix("--") {
        Some(long) => format!("unknown flag: --{}", long.split('=').next().unwrap_or(long)),
        None => {
            let c = typed.chars().nth(1).unwrap_or('-');
            format!("unknown shorthand flag: '{c}' in {typed}")
        }
    }
}

/// The argument clap names in an error (`--memory <MEMORY>`, `-m`).
fn flag_of<'a>(cmd: &'a Command, arg: &str) -> Option<&'a clap::Arg> {
    let word = arg.split([' ', '=']).next().unwrap_or(arg);
    if let Some(long) = word.strip_prefix("--") {
        cmd.get_arguments().find(|a| a.get_long() == Some(long))
    } else if let Some(short) = word.strip_prefix('-') {
        let c = short.chars().next()?;
        cmd.get_arguments().find(|a| a.get_short() == Some(c))
    } else {
        None
    }
}

/// `-m, --memory` or `--cpus`, as pflag names a flag.
fn flag_names(flag: Option<&clap::Arg>, arg: &str) -> String {
    match flag {
        Some(a) => match (a.get_short(), a.get_long()) {
            (Some(s), Some(l)) => format!("-{s}, --{l}"),
            (None, Some(l)) => format!("--{l}"),
            (Some(s), None) => format!("-{s}"),
            (None, None) => arg.to_string(),
        },
        None => arg.split(' ').next().unwrap_or(arg).to_string(),
    }
}

/// pflag's words for a flag given last with no value.
fn needs_argument(flag: Option<&clap::Arg>, argv: &[String]) -> String {
    let Some(a) = flag else {
        return "flag needs an argument".into();
    };
    let typed_long = a
        .get_long()
        .is_some_and(|l| argv.last().is_some_and(|w| w == &format!("--{l}")));
    match (a.get_short(), a.get_long()) {
        (Some(s), _) if !typed_long => format!("flag needs an argument: '{s}' in -{s}"),
        (_, Some(l)) => format!("flag needs an argument: --{l}"),
        _ => "flag needs an argument".into(),
    }
}

/// An integer flag's value, as pflag reads it (`strconv.ParseInt(s, 0, 64)`:
/// a sign, then decimal, `0x`, `0o`, `0b` or a leading-0 octal).
pub fn go_int(s: &str) -> Result<i64, String> {
    let err = |why: &str| format!("strconv.ParseInt: parsing {s:?}: {why}");
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let magnitude = go_digits(body).map_err(err)?;
    let v = if neg {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    i64::try_from(v).map_err(|_| err("value out of range"))
}

/// A `uint16` flag's value, as pflag reads it (`strconv.ParseUint(s, 0,
/// 16)`: no sign).
pub fn go_u16(s: &str) -> Result<i64, String> {
    let err = |why: &str| format!("strconv.ParseUint: parsing {s:?}: {why}");
    let magnitude = go_digits(s).map_err(err)?;
    u16::try_from(magnitude)
        .map(i64::from)
        .map_err(|_| err("value out of range"))
}

/// The value of an unsigned Go integer literal (decimal, `0x`, `0o`, `0b`
/// or a leading-0 octal), or why not in `strconv`'s words.
fn go_digits(body: &str) -> Result<u128, &'static str> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("invalid syntax");
    }
    u128::from_str_radix(digits, radix).map_err(|_| "value out of range")
}

/// `--cpus`: a rational number of CPUs (Docker's `NanoCPUs`: `1.5`, `3/2`,
/// `2e-1`), at most nanosecond precision.
pub fn go_cpus(s: &str) -> Result<f64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let v = match s.split_once('/') {
        Some((n, d)) => {
            let n: i64 = n.parse().map_err(|_| bad())?;
            let d: i64 = d.parse().map_err(|_| bad())?;
            if d == 0 {
                return Err(bad());
            }
            n as f64 / d as f64
        }
        None => {
            let numeric = s
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
            if !numeric || s.is_empty() {
                return Err(bad());
            }
            s.parse::<f64>().map_err(|_| bad())?
        }
    };
    let nano = v * 1e9;
    if (nano - nano.round()).abs() > 1e-6 {
        return Err("value is too precise".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_int_reads_and_refuses_as_parse_int() {
        assert_eq!(go_int("42"), Ok(42));
        assert_eq!(go_int("-1"), Ok(-1));
        assert_eq!(go_int("0x10"), Ok(16));
        assert_eq!(go_int("010"), Ok(8));
        assert_eq!(
            go_int("x"),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            go_int("1.5"),
            Err("strconv.ParseInt: parsing \"1.5\": invalid syntax".into())
        );
        assert_eq!(
            go_int("99999999999999999999"),
            Err("strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into())
        );
    }

    #[test]
    fn go_u16_reads_and_refuses_as_parse_uint() {
        assert_eq!(go_u16("300"), Ok(300));
        assert_eq!(go_u16("0x10"), Ok(16));
        assert_eq!(
            go_u16("-1"),
            Err("strconv.ParseUint: parsing \"-1\": invalid syntax".into())
        );
        assert_eq!(
            go_u16("+1"),
            Err("strconv.ParseUint: parsing \"+1\": invalid syntax".into())
        );
        assert_eq!(
            go_u16("65536"),
            Err("strconv.ParseUint: parsing \"65536\": value out of range".into())
        );
    }

    #[test]
    fn go_cpus_takes_rationals() {
        assert_eq!(go_cpus("1.5"), Ok(1.5));
        assert_eq!(go_cpus("3/2"), Ok(1.5));
        assert_eq!(
            go_cpus("abc"),
            Err("failed to parse abc as a rational number".into())
        );
        assert_eq!(go_cpus("0.0000000001"), Err("value is too precise".into()));
    }
}
