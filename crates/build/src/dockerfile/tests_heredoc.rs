//! Heredocs: RUN, COPY, ADD (and ONBUILD triggers), names, quoting,
//! `<<-`, several per line, line numbers.

use super::tests::{err, insts};
use super::*;

fn doc(name: &str, content: &str, expand: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
    }
}

fn run(src: &str) -> (Run, Location) {
    let mut i = insts(&format!("FROM x\n{src}"));
    let inst = i.remove(0);
    match inst.kind {
        Kind::Run(r) => (r, inst.location),
        other => panic!("{other:?}"),
    }
}

fn docs(src: &str) -> Vec<Heredoc> {
    run(src).0.heredocs
}

#[test]
fn run_heredoc() {
    let (r, loc) = run("RUN <<EOF\necho hello\necho $HOME\nEOF\n");
    assert_eq!(r.command, Command::Shell("<<EOF".into()));
    assert_eq!(
        r.heredocs,
        vec![doc("EOF", "echo hello\necho $HOME\n", true)]
    );
    assert_eq!(
        loc,
        Location {
            line: 2,
            end_line: 5
        }
    );
    assert_eq!(docs("RUN <<EMPTY\nEMPTY\n"), vec![doc("EMPTY", "", true)]);
    assert_eq!(docs("RUN 3<<FD\nx\nFD\n"), vec![doc("FD", "x\n", true)]);
}

#[test]
fn body_lines_are_kept_verbatim() {
    let body = "# internal comment\n\techo a \\\n\n  echo b # trailing\n";
    assert_eq!(
        docs(&format!("RUN <<COMMENT\n{body}COMMENT\n")),
        vec![doc("COMMENT", body, true)]
    );
    // The terminator must be alone on its line (indented: not a terminator).
    assert_eq!(docs("RUN <<E\n E\nE\n"), vec![doc("E", " E\n", true)]);
    assert_eq!(docs("RUN <<E\nx\r\nE\r\n"), vec![doc("E", "x\r\n", true)]);
}

#[test]
fn quoted_delimiters_turn_expansion_off() {
    assert_eq!(
        docs("RUN <<'EOF'\n$A\nEOF\n"),
        vec![doc("EOF", "$A\n", false)]
    );
    assert_eq!(
        docs("RUN <<\"EOF\"\n$A\nEOF\n"),
        vec![doc("EOF", "$A\n", false)]
    );
    assert_eq!(
        docs("RUN <<eo'f'\necho foo\neof\n"),
        vec![doc("eof", "echo foo\n", false)]
    );
    assert_eq!(
        docs("RUN <<eo\\'f\necho foo\neo'f\n"),
        vec![doc("eo'f", "echo foo\n", true)]
    );
    assert_eq!(
        docs("RUN <<'e'o\\'f\necho foo\neo'f\n"),
        vec![doc("eo'f", "echo foo\n", false)]
    );
    assert_eq!(
        docs("RUN <<'one two'\necho bar\none two\n"),
        vec![doc("one two", "echo bar\n", false)]
    );
    assert_eq!(docs("RUN <<$EOF\n$EOF\n"), vec![doc("$EOF", "", true)]);
    assert_eq!(docs("RUN <<  EOF\nEOF\n"), vec![doc("EOF", "", true)]);
    assert_eq!(
        docs("RUN <<  EOF  > foo\nEOF\n"),
        vec![doc("EOF", "", true)]
    );
}

#[test]
fn dash_strips_leading_tabs() {
    assert_eq!(
        docs("RUN <<-UNINDENT\n\tbaz\n\t\tquux\n  sp\nUNINDENT\n"),
        vec![doc("UNINDENT", "baz\nquux\n  sp\n", true)]
    );
    // With `<<-`, the terminator may be indented with tabs.
    assert_eq!(docs("RUN <<-E\n\tx\n\tE\n"), vec![doc("E", "x\n", true)]);
    assert_eq!(docs("RUN <<-'N'\n\t$x\nN\n"), vec![doc("N", "$x\n", false)]);
    // Without the dash, tabs stay, and a tab-indented terminator is body.
    assert_eq!(
        docs("RUN <<E\n\tx\n\tE\nE\n"),
        vec![doc("E", "\tx\n\tE\n", true)]
    );
}

#[test]
fn several_heredocs_on_one_line() {
    let (r, loc) = run(
        "RUN <<FILE1 cat > /f1 && <<-FILE2 cat > /f2\nline 1\nFILE1\n\tline 2\nFILE2\nUSER u\n",
    );
    assert_eq!(
        r.command,
        Command::Shell("<<FILE1 cat > /f1 && <<-FILE2 cat > /f2".into())
    );
    assert_eq!(
        r.heredocs,
        vec![
            doc("FILE1", "line 1\n", true),
            doc("FILE2", "line 2\n", true)
        ]
    );
    assert_eq!(
        loc,
        Location {
            line: 2,
            end_line: 6
        }
    );
    let i = insts("FROM x\nRUN <<A cat && <<B cat\na\nA\nb\nB\nUSER u\n");
    assert_eq!(i[1].kind, Kind::User("u".into()));
    assert_eq!(
        i[1].location,
        Location {
            line: 7,
            end_line: 7
        }
    );
    assert_eq!(
        docs("RUN python3 <<COMPLEX\nprint('hi')\nCOMPLEX\n"),
        vec![doc("COMPLEX", "print('hi')\n", true)]
    );
    assert_eq!(
        docs("RUN --mount=type=cache,target=/c <<MOUNT\necho hello\nMOUNT\n"),
        vec![doc("MOUNT", "echo hello\n", true)]
    );
}

#[test]
fn not_heredocs() {
    assert!(docs("RUN \"<<NOHEREDOC\"\n").is_empty());
    assert!(docs("RUN '<<EOF'\n").is_empty());
    assert!(docs("RUN [\"<<EOF\"]\n").is_empty());
    assert!(docs("RUN echo a<b\n").is_empty());
    assert!(docs("RUN cat <<<EOF\n").is_empty());
    assert!(docs("RUN echo <<\n").is_empty());
    // Only RUN, COPY and ADD read heredocs: the next line is an instruction.
    let e = err("FROM x\nUSER <<INVALID\nINVALID\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (3, "unknown instruction: INVALID")
    );
    let i = insts("FROM x\nLABEL a=<<EOF\nUSER u\n");
    assert_eq!(i.len(), 2);
}

#[test]
fn unterminated_heredoc() {
    let e = err("FROM x\nRUN <<EOF\necho a\n");
    assert_eq!((e.line, e.message.as_str()), (2, "unterminated heredoc"));
    // A terminator on the last line needs no newline; a body line does not end one.
    assert_eq!(docs("RUN <<EOF\nx\nEOF"), vec![doc("EOF", "x\n", true)]);
    let e = err("FROM x\nRUN <<EOF\nEOFx");
    assert_eq!((e.line, e.message.as_str()), (2, "unterminated heredoc"));
    let e = err("FROM x\nRUN <<A <<B\nA\nb\n");
    assert_eq!((e.line, e.message.as_str()), (2, "unterminated heredoc"));
}

#[test]
fn lines_that_do_not_lex_open_no_heredoc() {
    // The line's words do not lex: no heredoc, so the body is instructions.
    let e = err("FROM x\nRUN <<'EOF\nEOF\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (3, "unknown instruction: EOF (did you mean ENV?)")
    );
    let e = err("FROM x\nRUN cat <<EOF\"\nEOF\n");
    assert_eq!(e.line, 3);
}

fn copy_of(k: &Kind) -> &Copy {
    match k {
        Kind::Copy(c) | Kind::Add(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn copy_heredocs() {
    let i = insts("FROM x\nCOPY <<FILE1 <<-FILE2 /dest/\ncontent 1\nFILE1\n\tcontent 2\n\tFILE2\nCOPY --chmod=755 <<'EOF' /run.sh\n#!/bin/sh\necho $X\nEOF\n");
    let c = copy_of(&i[0].kind);
    assert_eq!(c.sources, Vec::<String>::new());
    assert_eq!(c.dest, "/dest/");
    assert_eq!(
        c.heredocs,
        vec![
            doc("FILE1", "content 1\n", true),
            doc("FILE2", "content 2\n", true)
        ]
    );
    assert_eq!(
        i[0].location,
        Location {
            line: 2,
            end_line: 6
        }
    );
    let c = copy_of(&i[1].kind);
    assert_eq!(c.chmod.as_deref(), Some("755"));
    assert_eq!(
        i[1].trigger_text(),
        "COPY --chmod=755 <<'EOF' /run.sh\n#!/bin/sh\necho $X\nEOF"
    );
    assert_eq!(c.heredocs, vec![doc("EOF", "#!/bin/sh\necho $X\n", false)]);
    assert_eq!(
        i[1].location,
        Location {
            line: 7,
            end_line: 10
        }
    );
}

#[test]
fn copy_heredocs_mixed_with_files_and_crossing_names() {
    let i =
        insts("FROM x\nCOPY a <<X <<Y b /d/\nY\nX\nX\nY\nADD <<file.txt /dest\nhello\nfile.txt\n");
    let c = copy_of(&i[0].kind);
    assert_eq!(c.sources, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(
        c.heredocs,
        vec![doc("X", "Y\n", true), doc("Y", "X\n", true)]
    );
    let c = copy_of(&i[1].kind);
    assert!(matches!(i[1].kind, Kind::Add(_)));
    assert_eq!(c.heredocs, vec![doc("file.txt", "hello\n", true)]);
    assert_eq!(c.dest, "/dest");
}

#[test]
fn copy_heredoc_as_destination_is_refused() {
    let e = err("FROM x\nCOPY a <<EOF\nx\nEOF\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "COPY cannot accept a heredoc as a destination")
    );
    let e = err("FROM x\nADD a <<EOF\nx\nEOF\n");
    assert_eq!(e.message, "ADD cannot accept a heredoc as a destination");
}

#[test]
fn onbuild_heredoc() {
    let i = insts("FROM x\nONBUILD RUN <<EOF\necho on\nEOF\nUSER u\n");
    assert_eq!(
        i[0].location,
        Location {
            line: 2,
            end_line: 4
        }
    );
    let Kind::Onbuild(t) = &i[0].kind else {
        panic!()
    };
    let Kind::Run(r) = &t.kind else { panic!() };
    assert_eq!(r.heredocs, vec![doc("EOF", "echo on\n", true)]);
    assert_eq!(i[1].kind, Kind::User("u".into()));
}

#[test]
fn heredoc_names_use_backslash_even_with_backtick_escape() {
    let d = super::tests::df("# escape=`\nFROM x\nRUN <<EOF\ndir `\nEOF\n");
    let Kind::Run(r) = &d.stages[0].instructions[0].kind else {
        panic!()
    };
    assert_eq!(r.heredocs, vec![doc("EOF", "dir `\n", true)]);
}
