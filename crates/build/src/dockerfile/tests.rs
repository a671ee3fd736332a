//! Directives, comments, continuations, line numbers, stages and errors.

use super::*;

pub(super) fn df(src: &str) -> Dockerfile {
    parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

pub(super) fn err(src: &str) -> ParseError {
    match parse(src) {
        Ok(d) => panic!("{src:?} parsed: {d:?}"),
        Err(e) => e,
    }
}

/// The instructions of the only stage.
pub(super) fn insts(src: &str) -> Vec<Instruction> {
    let d = df(src);
    assert_eq!(d.stages.len(), 1, "{src:?}");
    d.stages[0].instructions.clone()
}

pub(super) fn kind(src: &str) -> Kind {
    let mut i = insts(src);
    assert_eq!(i.len(), 1, "{src:?}");
    i.remove(0).kind
}

fn shell_of(k: &Kind) -> &str {
    match k {
        Kind::Run(Run {
            command: Command::Shell(s),
            ..
        }) => s,
        other => panic!("not a shell-form RUN: {other:?}"),
    }
}

#[test]
fn minimal_file() {
    let d = df("FROM alpine\n");
    assert_eq!(d.escape, '\\');
    assert_eq!(d.syntax, None);
    assert!(d.meta_args.is_empty());
    assert_eq!(d.stages.len(), 1);
    let s = &d.stages[0];
    assert_eq!(s.index, 0);
    assert_eq!(s.base, "alpine");
    assert_eq!(s.name, None);
    assert_eq!(s.platform, None);
    assert_eq!(s.original, "FROM alpine");
    assert_eq!(
        s.location,
        Location {
            line: 1,
            end_line: 1
        }
    );
    assert!(s.instructions.is_empty());
}

#[test]
fn directives_at_the_top() {
    let d = df("# syntax=docker/dockerfile:1.7\n# escape=`\nFROM x\nRUN a `\n  b\n");
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(d.escape, '`');
    assert_eq!(shell_of(&d.stages[0].instructions[0].kind), "a   b");

    // Case-insensitive, blanks allowed around `=`, `check` accepted.
    let d = df("#  ESCAPE = `  \n# check=skip=all\nFROM x\n");
    assert_eq!(d.escape, '`');
    let d = df("   # escape=`\nFROM x\n");
    assert_eq!(d.escape, '`');
}

#[test]
fn directives_only_before_anything_else() {
    // After a comment, a blank line or an instruction: just a comment.
    assert_eq!(df("# hello\n# escape=`\nFROM x\n").escape, '\\');
    assert_eq!(df("\n# escape=`\nFROM x\n").escape, '\\');
    assert_eq!(df("FROM x\n# escape=`\nRUN a\n").escape, '\\');
    // An unknown directive ends them too.
    assert_eq!(df("# foo=bar\n# escape=`\nFROM x\n").escape, '\\');
    assert_eq!(df("# syntax = a b \nFROM x").syntax.as_deref(), Some("a b"));
}

#[test]
fn directive_errors() {
    let e = err("# escape=x\nFROM a\n");
    assert_eq!(e.line, 1);
    assert_eq!(e.message, "invalid escape token 'x' does not match ` or \\");
    let e = err("# escape=`\n# escape=\\\nFROM a\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "only one escape parser directive can be used");
    assert_eq!(
        e.to_string(),
        "dockerfile parse error on line 2: only one escape parser directive can be used"
    );
}

#[test]
fn empty_files_are_errors() {
    for src in ["", "\n\n", "# just a comment\n\n# another\n", "  \t\n"] {
        let e = err(src);
        assert_eq!(e.line, 0);
        assert_eq!(e.message, "file with no instructions");
    }
    let e = err("ARG a=1\n");
    assert_eq!(e.message, "dockerfile contains no stages to build");
}

#[test]
fn comments_and_blank_lines() {
    let i = insts("# c1\n\nFROM x\n  # indented comment\n\nRUN a # not a comment\n");
    assert_eq!(i.len(), 1);
    assert_eq!(shell_of(&i[0].kind), "a # not a comment");
    assert_eq!(
        i[0].location,
        Location {
            line: 6,
            end_line: 6
        }
    );
}

#[test]
fn byte_order_mark_and_crlf() {
    let d = df("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n");
    assert_eq!(d.stages[0].base, "x");
    assert_eq!(shell_of(&d.stages[0].instructions[0].kind), "a  b");
}

#[test]
fn continuations() {
    let i = insts("FROM x\nRUN apt-get update \\\n\t&& apt-get install -y git \\\n    && rm -rf /var/lib/apt\n");
    assert_eq!(
        shell_of(&i[0].kind),
        "apt-get update \t&& apt-get install -y git     && rm -rf /var/lib/apt"
    );
    assert_eq!(
        i[0].original,
        "RUN apt-get update \t&& apt-get install -y git     && rm -rf /var/lib/apt"
    );
    assert_eq!(
        i[0].location,
        Location {
            line: 2,
            end_line: 4
        }
    );
}

#[test]
fn continuation_with_trailing_blanks_comments_and_empty_lines() {
    let src =
        "FROM x\nRUN a \\  \t\n# a comment\n\n   \n  # indented comment\n  b \\\n\n  c\nUSER u\n";
    let i = insts(src);
    assert_eq!(i.len(), 2);
    assert_eq!(shell_of(&i[0].kind), "a   b   c");
    assert_eq!(
        i[0].location,
        Location {
            line: 2,
            end_line: 9
        }
    );
    assert_eq!(
        i[1].location,
        Location {
            line: 10,
            end_line: 10
        }
    );
    assert_eq!(i[1].kind, Kind::User("u".into()));
}

#[test]
fn escaped_escape_is_not_a_continuation() {
    let i = insts("FROM x\nRUN echo a\\\\\nUSER u\n");
    assert_eq!(shell_of(&i[0].kind), "echo a\\\\");
    assert_eq!(i[1].kind, Kind::User("u".into()));
    // A lone escape on its line continues.
    let i = insts("FROM x\nRUN a \\\n\\\nb\n");
    assert_eq!(shell_of(&i[0].kind), "a b");
    // A continuation at the end of the file.
    let i = insts("FROM x\nRUN a \\");
    assert_eq!(shell_of(&i[0].kind), "a");
    assert_eq!(i[0].original, "RUN a ");
}

#[test]
fn backtick_escape() {
    let d = df("# escape=`\nFROM x\nRUN dir C:\\ `\n  /b\nWORKDIR C:\\Windows\n");
    let i = &d.stages[0].instructions;
    assert_eq!(shell_of(&i[0].kind), "dir C:\\   /b");
    assert_eq!(i[1].kind, Kind::Workdir("C:\\Windows".into()));
}

#[test]
fn instruction_names_are_case_insensitive() {
    let i = insts("from x\nrun a\nRuN b\nworkdir /w\n");
    assert_eq!(shell_of(&i[0].kind), "a");
    assert_eq!(shell_of(&i[1].kind), "b");
    assert_eq!(i[2].kind, Kind::Workdir("/w".into()));
    assert_eq!(i[0].original, "run a");
}

#[test]
fn stages_and_meta_args() {
    let d = df("ARG BASE=alpine\nARG V\nFROM $BASE AS Build\nRUN make\nFROM --platform=$BUILDPLATFORM scratch as final\nARG V\nCOPY --from=build /out /\n");
    assert_eq!(d.meta_args.len(), 2);
    assert_eq!(
        d.meta_args[0].0,
        Location {
            line: 1,
            end_line: 1
        }
    );
    assert_eq!(
        d.meta_args[0].1,
        vec![ArgDecl {
            name: "BASE".into(),
            default: Some("alpine".into())
        }]
    );
    assert_eq!(d.meta_args[1].1[0].default, None);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].name.as_deref(), Some("build"));
    assert_eq!(d.stages[0].base, "$BASE");
    assert_eq!(d.stages[0].location.line, 3);
    assert_eq!(d.stages[1].index, 1);
    assert_eq!(d.stages[1].name.as_deref(), Some("final"));
    assert_eq!(d.stages[1].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(
        d.stages[1].original,
        "FROM --platform=$BUILDPLATFORM scratch as final"
    );
    assert!(matches!(d.stages[1].instructions[0].kind, Kind::Arg(_)));
    assert_eq!(d.stage("BUILD").map(|s| s.index), Some(0));
    assert_eq!(d.stage("1").map(|s| s.index), Some(1));
    assert!(d.stage("nope").is_none());
}

#[test]
fn from_errors() {
    let e = err("FROM a AS\n");
    assert_eq!(e.message, "FROM requires either one or three arguments");
    assert_eq!(
        err("FROM\n").message,
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a b c\n").message,
        "FROM requires either one or three arguments"
    );
    let e = err("FROM a AS 1st\n");
    assert_eq!(
        e.message,
        "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
    );
    assert!(err("FROM a AS b!c\n")
        .message
        .starts_with("invalid name for build stage: \"b!c\""));
    assert_eq!(
        df("FROM a AS my-stage_1.x\n").stages[0].name.as_deref(),
        Some("my-stage_1.x")
    );
    let e = err("FROM --plaform=linux/amd64 a\n");
    assert_eq!(
        e.message,
        "unknown flag: --plaform (did you mean platform?)"
    );
}

#[test]
fn instructions_before_from() {
    let e = err("# c\nRUN echo hi\nFROM x\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "no build stage in current context");
    let e = err("ARG a\nENV b=c\nFROM x\n");
    assert_eq!(e.line, 2);
}

#[test]
fn unknown_instructions() {
    let e = err("FROM x\n\nFOO bar\n");
    assert_eq!(e.line, 3);
    assert_eq!(e.message, "unknown instruction: FOO (did you mean FROM?)");
    assert_eq!(
        err("FROM x\nXYZZY bar\n").message,
        "unknown instruction: XYZZY"
    );
    assert_eq!(
        err("FROM x\nxyzzy bar\n").message,
        "unknown instruction: xyzzy"
    );
    assert_eq!(
        err("FROM x\nRUNN echo\n").message,
        "unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        err("FROM x\ncopyy a b\n").message,
        "unknown instruction: copyy (did you mean copy?)"
    );
    assert_eq!(
        err("FROM x\nWorkdirr /a\n").message,
        "unknown instruction: Workdirr (did you mean workdir?)"
    );
    // The first failing instruction is reported, in file order.
    let e = err("FROM x\nBAD a\nRUN \\\n  [\"a\", 1]\n");
    assert_eq!(e.line, 3);
    assert_eq!(
        e.message,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn error_lines_for_continued_instructions() {
    let e = err("FROM x\nRUN a\nCOPY \\\n  a \\\n\n");
    assert_eq!(e.line, 3);
    assert!(e
        .message
        .starts_with("COPY requires at least two arguments"));
    let e = err("FROM x\n\n\nWORKDIR\n");
    assert_eq!(e.line, 4);
    assert_eq!(
        e.to_string(),
        "dockerfile parse error on line 4: WORKDIR requires exactly one argument"
    );
}

#[test]
fn onbuild_triggers() {
    let k = kind("FROM x\nONBUILD RUN --mount=type=cache,target=/c make\n");
    let Kind::Onbuild(t) = k else { panic!() };
    assert_eq!(t.original, "RUN --mount=type=cache,target=/c make");
    assert_eq!(
        t.location,
        Location {
            line: 2,
            end_line: 2
        }
    );
    let Kind::Run(r) = &t.kind else { panic!() };
    assert_eq!(r.command, Command::Shell("make".into()));
    assert_eq!(r.mounts[0].target.as_deref(), Some("/c"));

    let Kind::Onbuild(t) = kind("FROM x\nonbuild   copy . /app\n") else {
        panic!()
    };
    assert_eq!(t.original, "copy . /app");
    assert!(matches!(t.kind, Kind::Copy(_)));

    let e = err("FROM x\nONBUILD ONBUILD RUN a\n");
    assert_eq!(
        e.message,
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        err("FROM x\nONBUILD FROM y\n").message,
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM x\nONBUILD maintainer me\n").message,
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM x\nONBUILD\n").message,
        "ONBUILD requires at least one argument"
    );
    assert_eq!(
        err("FROM x\nONBUILD --x RUN a\n").message,
        "unknown flag: --x"
    );
}

#[test]
fn parse_trigger_reads_one_instruction() {
    let i = parse_trigger("RUN echo hi", '\\').unwrap();
    assert_eq!(i.original, "RUN echo hi");
    assert_eq!(
        i.kind,
        Kind::Run(Run {
            command: Command::Shell("echo hi".into()),
            heredocs: vec![],
            mounts: vec![],
            mount_specs: vec![],
            network: None,
            security: None,
        })
    );
    let i = parse_trigger("WORKDIR C:\\a `\n b", '`').unwrap();
    assert_eq!(i.kind, Kind::Workdir("C:\\a  b".into()));
    assert_eq!(
        parse_trigger("RUN a\nRUN b", '\\').unwrap_err().message,
        "onbuild trigger should be a single expression"
    );
    assert_eq!(
        parse_trigger("ONBUILD RUN a", '\\').unwrap_err().message,
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        parse_trigger("FROM a", '\\').unwrap_err().message,
        "FROM isn't allowed as an ONBUILD trigger"
    );
}

#[test]
fn trigger_text_round_trips_heredocs() {
    let Kind::Onbuild(t) = kind("FROM x\nONBUILD RUN <<EOF\necho $A\nEOF\n") else {
        panic!()
    };
    assert_eq!(t.trigger_text(), "RUN <<EOF\necho $A\nEOF");
    let back = parse_trigger(&t.trigger_text(), '\\').unwrap();
    assert_eq!(back.kind, t.kind);
}

#[test]
fn a_realistic_file() {
    let src = r#"# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Cache modules.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download -x
COPY <<EOF /etc/motd
built by $USER
EOF
RUN --mount=type=secret,id=token,env=TOKEN <<-SH
	set -e
	go build -o /out/app ./cmd/app
	SH

FROM scratch
COPY --from=build --chmod=0755 /out/app /app
EXPOSE 8080/tcp
HEALTHCHECK --interval=30s --retries=3 CMD ["/app", "health"]
USER 65532:65532
ENTRYPOINT ["/app"]
"#;
    let d = df(src);
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.meta_args[0].1[0].name, "GO_VERSION");
    assert_eq!(d.stages.len(), 2);
    let b = &d.stages[0];
    assert_eq!(b.base, "golang:${GO_VERSION}-alpine");
    assert_eq!(
        b.location,
        Location {
            line: 4,
            end_line: 4
        }
    );
    let lines: Vec<(usize, usize)> = b
        .instructions
        .iter()
        .map(|i| (i.location.line, i.location.end_line))
        .collect();
    assert_eq!(lines, [(5, 5), (7, 10), (11, 13), (14, 17)]);
    let Kind::Run(r) = &b.instructions[1].kind else {
        panic!()
    };
    assert_eq!(r.mounts.len(), 3);
    assert_eq!(r.mounts[1].source.as_deref(), Some("go.sum"));
    assert_eq!(r.command, Command::Shell("go mod download -x".into()));
    let Kind::Run(r) = &b.instructions[3].kind else {
        panic!()
    };
    assert_eq!(r.mounts[0].env.as_deref(), Some("TOKEN"));
    assert_eq!(
        r.heredocs[0].content,
        "set -e\ngo build -o /out/app ./cmd/app\n"
    );
    let f = &d.stages[1];
    assert_eq!(f.index, 1);
    assert_eq!(f.location.line, 19);
    assert_eq!(f.instructions.len(), 5);
    assert_eq!(
        f.instructions[4].kind,
        Kind::Entrypoint(Command::Exec(vec!["/app".into()]))
    );
}
