//! The second pass: a raw node -> a typed instruction, with each
//! instruction's argument counts, flags and checks, in Docker's order and
//! wording.

use super::flags::{parse_flags, suggest, FlagKind as F};
use super::heredoc::{chomp, parse_heredoc};
use super::mount::parse_unexpanded;
use super::values::interval;
use super::words::Node;
use crate::dockerfile::shell::go_quote;
use crate::dockerfile::{
    ArgDecl, Command, Copy, Healthcheck, Heredoc, Instruction, KeyValue, Kind, Location, Run,
};

pub(super) enum Parsed {
    From {
        name: Option<String>,
        base: String,
        platform: Option<String>,
    },
    Kind(Kind),
}

const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

fn no_destination(cmd: &str) -> String {
    format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    )
}

/// The exec form (JSON) or the shell form (the words joined).
fn command(node: &Node, args: &[String]) -> Command {
    if node.json {
        Command::Exec(args.to_vec())
    } else {
        Command::Shell(args.join(" "))
    }
}

fn heredocs(node: &Node) -> Vec<Heredoc> {
    node.heredocs
        .iter()
        .map(|h| Heredoc {
            name: h.name.clone(),
            content: h.body(),
            expand: h.expand,
        })
        .collect()
}

/// What may not be an ONBUILD trigger.
pub(super) fn check_trigger(cmd: &str) -> Result<(), String> {
    let trigger = cmd.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
        _ => Ok(()),
    }
}

pub(super) fn parse_node(node: &Node) -> Result<Parsed, String> {
    let args = &node.args;
    let kind = match node.cmd.to_lowercase().as_str() {
        "from" => return parse_from(node),
        "env" | "label" => {
            let name = node.cmd.to_uppercase();
            parse_flags(&node.flags, &[])?;
            if node.kvs.is_empty() {
                return Err(at_least_one(&name));
            }
            let mut pairs = Vec::new();
            for (key, value) in &node.kvs {
                if key.is_empty() {
                    return Err(format!("{name} names can not be blank"));
                }
                pairs.push(KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            if name == "ENV" {
                Kind::Env(pairs)
            } else {
                Kind::Label(pairs)
            }
        }
        "maintainer" => {
            one_arg(node, "MAINTAINER")?;
            parse_flags(&node.flags, &[])?;
            Kind::Maintainer(args[0].clone())
        }
        "add" | "copy" => parse_copy(node)?,
        "onbuild" => {
            let Some(sub) = node.sub.as_deref() else {
                return Err(at_least_one("ONBUILD"));
            };
            parse_flags(&node.flags, &[])?;
            check_trigger(&sub.cmd)?;
            let mut trigger = sub.clone();
            trigger.original = strip_onbuild(&node.original).to_string();
            trigger.heredocs = node.heredocs.clone();
            let Parsed::Kind(kind) = parse_node(&trigger)? else {
                return Err("FROM isn't allowed as an ONBUILD trigger".into());
            };
            Kind::Onbuild(Box::new(Instruction {
                location: Location {
                    line: node.start,
                    end_line: node.end,
                },
                original: trigger.original,
                kind,
            }))
        }
        "workdir" => {
            one_arg(node, "WORKDIR")?;
            parse_flags(&node.flags, &[])?;
            Kind::Workdir(args[0].clone())
        }
        "run" => parse_run(node)?,
        "cmd" => {
            parse_flags(&node.flags, &[])?;
            Kind::Cmd(command(node, args))
        }
        "entrypoint" => {
            parse_flags(&node.flags, &[])?;
            Kind::Entrypoint(command(node, args))
        }
        "healthcheck" => parse_healthcheck(node)?,
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            parse_flags(&node.flags, &[])?;
            Kind::Expose(args.clone())
        }
        "user" => {
            one_arg(node, "USER")?;
            parse_flags(&node.flags, &[])?;
            Kind::User(args[0].clone())
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            parse_flags(&node.flags, &[])?;
            let mut vols = Vec::new();
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                vols.push(v.to_string());
            }
            Kind::Volume(vols)
        }
        // Docker reads no flags for STOPSIGNAL and ARG: they are ignored.
        "stopsignal" => {
            one_arg(node, "STOPSIGNAL")?;
            Kind::Stopsignal(args[0].clone())
        }
        "arg" => {
            if args.is_empty() {
                return Err(at_least_one("ARG"));
            }
            let mut decls = Vec::new();
            for a in args {
                let decl = match a.split_once('=') {
                    Some(("", _)) => return Err("ARG names can not be blank".into()),
                    Some((k, v)) => ArgDecl {
                        name: k.to_string(),
                        default: Some(v.to_string()),
                    },
                    None => ArgDecl {
                        name: a.clone(),
                        default: None,
                    },
                };
                decls.push(decl);
            }
            Kind::Arg(decls)
        }
        "shell" => {
            parse_flags(&node.flags, &[])?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            Kind::Shell(args.clone())
        }
        _ => {
            let e = format!("unknown instruction: {}", node.cmd);
            return Err(suggest(e, &node.cmd, &INSTRUCTIONS, false));
        }
    };
    Ok(Parsed::Kind(kind))
}

fn one_arg(node: &Node, cmd: &str) -> Result<(), String> {
    if node.args.len() != 1 {
        return Err(exactly_one(cmd));
    }
    Ok(())
}

/// The line without its leading `ONBUILD` word.
fn strip_onbuild(original: &str) -> &str {
    let ws = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
    let t = original.trim_start_matches(ws);
    match t.get(..7) {
        Some(w) if w.eq_ignore_ascii_case("onbuild") => t[7..].trim_start_matches(ws),
        _ => original,
    }
}

fn parse_from(node: &Node) -> Result<Parsed, String> {
    let args = &node.args;
    let name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let name = args[2].to_lowercase();
            let mut chars = name.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                });
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    go_quote(&args[2])
                ));
            }
            Some(name)
        }
        1 => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let flags = parse_flags(&node.flags, &[("platform", F::Str)])?;
    Ok(Parsed::From {
        name,
        base: args[0].clone(),
        platform: flags.string("platform"),
    })
}

fn parse_copy(node: &Node) -> Result<Kind, String> {
    let is_add = node.cmd.eq_ignore_ascii_case("add");
    let name = if is_add { "ADD" } else { "COPY" };
    if node.args.len() < 2 {
        return Err(no_destination(name));
    }
    let known: &[(&str, F)] = if is_add {
        &[
            ("chown", F::Str),
            ("chmod", F::Str),
            ("link", F::Bool),
            ("keep-git-dir", F::Bool),
            ("checksum", F::Str),
            ("exclude", F::Strings),
        ]
    } else {
        &[
            ("chown", F::Str),
            ("from", F::Str),
            ("chmod", F::Str),
            ("link", F::Bool),
            ("exclude", F::Strings),
            ("parents", F::Bool),
        ]
    };
    let flags = parse_flags(&node.flags, known)?;
    let (srcs, dest) = node.args.split_at(node.args.len() - 1);
    let dest = dest[0].clone();
    if parse_heredoc(&dest).ok().flatten().is_some() {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let mut sources = Vec::new();
    let mut docs = Vec::new();
    for src in srcs {
        match parse_heredoc(src).ok().flatten() {
            Some(h) => {
                let content = node
                    .heredocs
                    .iter()
                    .rev()
                    .find(|d| d.name == h.name)
                    .map(|d| d.content.clone())
                    .unwrap_or_default();
                docs.push(Heredoc {
                    content: if h.chomp { chomp(&content) } else { content },
                    name: h.name,
                    expand: h.expand,
                });
            }
            None => sources.push(src.clone()),
        }
    }
    let c = Copy {
        sources,
        dest,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        excludes: flags.strings("exclude"),
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
        parents: flags.bool("parents"),
        heredocs: docs,
    };
    Ok(if is_add { Kind::Add(c) } else { Kind::Copy(c) })
}

fn parse_run(node: &Node) -> Result<Kind, String> {
    let flags = parse_flags(
        &node.flags,
        &[
            ("mount", F::Strings),
            ("network", F::Str),
            ("security", F::Str),
        ],
    )?;
    let specs = flags.strings("mount");
    let mounts = specs
        .iter()
        .map(|s| parse_unexpanded(s))
        .collect::<Result<Vec<_>, _>>()?;
    let network = flags.given("network");
    let net = network.as_deref().unwrap_or("default");
    if !matches!(net, "default" | "none" | "host") {
        return Err(format!("invalid network mode {}", go_quote(net)));
    }
    let security = flags.given("security");
    let sec = security.as_deref().unwrap_or("sandbox");
    if !matches!(sec, "insecure" | "sandbox") {
        return Err(format!("security {} is not valid", go_quote(sec)));
    }
    Ok(Kind::Run(Run {
        command: command(node, &node.args),
        heredocs: heredocs(node),
        mounts,
        mount_specs: specs,
        network,
        security,
    }))
}

fn parse_healthcheck(node: &Node) -> Result<Kind, String> {
    let Some(first) = node.args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = first.to_uppercase();
    let rest = &node.args[1..];
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Kind::Healthcheck(Healthcheck::None));
    }
    let flags = parse_flags(
        &node.flags,
        &[
            ("interval", F::Str),
            ("timeout", F::Str),
            ("start-period", F::Str),
            ("start-interval", F::Str),
            ("retries", F::Str),
        ],
    )?;
    if typ != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&typ)
        ));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = command(node, rest);
    let interval_ = interval("interval", flags.string("interval"))?;
    let timeout = interval("timeout", flags.string("timeout"))?;
    let start_period = interval("start-period", flags.string("start-period"))?;
    let start_interval = interval("start-interval", flags.string("start-interval"))?;
    let retries = match flags.string("retries") {
        None => None,
        Some(v) => {
            let n = parse_go_int32(&v)?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            Some(n)
        }
    };
    Ok(Kind::Healthcheck(Healthcheck::Check {
        test,
        interval: interval_,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
}

/// A signed decimal that fits in 32 bits, with Go's messages.
fn parse_go_int32(v: &str) -> Result<i64, String> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(v)
        ));
    }
    match v.parse::<i64>() {
        Ok(n) if i32::try_from(n).is_ok() => Ok(n),
        _ => Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(v)
        )),
    }
}
