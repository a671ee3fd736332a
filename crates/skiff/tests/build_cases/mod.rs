//! The Dockerfiles of the build parity suite: one per instruction, flag,
//! form and error a user meets. `{BASE}` is not expanded here: the
//! Dockerfiles name the base image as both engines have it.

pub struct Case {
    pub name: &'static str,
    pub dockerfile: &'static str,
    /// Context files; `symlink:TARGET` makes a link.
    pub files: &'static [(&'static str, &'static str)],
    pub modes: &'static [(&'static str, u32)],
    /// More `build` flags.
    pub flags: &'static [&'static str],
    /// Run the image's own command and compare its output.
    pub run_default: bool,
    /// Shell commands run in the image, their output compared.
    pub runs: &'static [&'static str],
    /// Docker's legacy builder (DOCKER_BUILDKIT=0) instead of BuildKit.
    pub legacy: bool,
    /// Where skiff's error deliberately says more than Docker 20.10's (both
    /// must still fail): why. Empty: the error must point at the same line
    /// or exit code.
    pub differs: &'static str,
}

const C: Case = Case {
    name: "",
    dockerfile: "",
    files: &[],
    modes: &[],
    flags: &[],
    run_default: false,
    runs: &[],
    legacy: false,
    differs: "",
};

/// Lists a tree as `ls -ln` would show what a user checks.
const TREE: &str = "find /app | sort | while read f; do stat -c '%n %A %u:%g %s' \"$f\"; done";

/// Archives the ADD cases name, made here.
pub fn archives() -> Vec<(&'static str, Vec<u8>)> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body, mode) in [
        ("t/one.txt", "one\n", 0o644),
        ("t/run.sh", "echo run\n", 0o755),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(50);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    let plain = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    vec![
        ("plain.tar", plain.clone()),
        ("packed.tgz", gz.finish().unwrap()),
    ]
}

pub const CASES: &[Case] = &[
    Case { name: "cmd_exec", dockerfile: "FROM bp/busybox:1\nCMD [\"echo\", \"hi there\"]\n", run_default: true, ..C },
    Case { name: "cmd_shell", dockerfile: "FROM bp/busybox:1\nCMD echo shell form $HOME\n", run_default: true, ..C },
    Case { name: "cmd_bad_json_is_shell", dockerfile: "FROM bp/busybox:1\nCMD [echo, not json]\n", ..C },
    Case { name: "entrypoint_and_cmd", dockerfile: "FROM bp/busybox:1\nENTRYPOINT [\"echo\", \"a\"]\nCMD [\"b\", \"c\"]\n", run_default: true, ..C },
    Case { name: "entrypoint_resets_inherited_cmd", dockerfile: "FROM bp/busybox:1 AS one\nCMD [\"x\"]\nFROM one\nENTRYPOINT [\"echo\", \"only\"]\n", run_default: true, ..C },
    Case { name: "entrypoint_keeps_own_cmd", dockerfile: "FROM bp/busybox:1\nCMD [\"kept\"]\nENTRYPOINT [\"echo\"]\n", run_default: true, ..C },
    Case { name: "entrypoint_shell", dockerfile: "FROM bp/busybox:1\nENTRYPOINT echo from shell\nCMD [\"ignored\"]\n", run_default: true, ..C },
    Case { name: "env_forms", dockerfile: "FROM bp/busybox:1\nENV A=1 B=\"two words\" C=$A\nENV D 4 5\nRUN echo \"$A|$B|$C|$D\" > /e\n", runs: &["cat /e; env | sort | grep -v HOSTNAME"], ..C },
    Case { name: "env_sees_earlier_values", dockerfile: "FROM bp/busybox:1\nENV A=1\nENV A=2 B=$A\nENV C=${A}x D=${UNSET:-dflt} E=${A:+alt}\n", runs: &["echo $A $B $C $D $E"], ..C },
    Case { name: "env_quotes_and_escapes", dockerfile: "FROM bp/busybox:1\nENV A='single $HOME' B=\"dbl \\\"q\\\"\" C=a\\ b\n", runs: &["echo \"$A|$B|$C\""], ..C },
    Case { name: "arg_default", dockerfile: "FROM bp/busybox:1\nARG X=def\nRUN echo $X > /x\n", runs: &["cat /x; echo ${X:-unset}"], ..C },
    Case { name: "arg_override", dockerfile: "FROM bp/busybox:1\nARG X=def\nARG Y\nRUN echo $X $Y > /x\n", flags: &["--build-arg", "X=over", "--build-arg", "Y=why"], runs: &["cat /x"], ..C },
    Case { name: "arg_before_from", dockerfile: "ARG TAG=1\nARG NAME=bp/busybox\nFROM $NAME:${TAG}\nARG TAG\nRUN echo tag=$TAG name=$NAME > /t\n", runs: &["cat /t"], ..C },
    Case { name: "arg_env_wins", dockerfile: "FROM bp/busybox:1\nARG V=arg\nENV V=env\nRUN echo $V > /v\n", flags: &["--build-arg", "V=flag"], runs: &["cat /v"], ..C },
    Case { name: "arg_in_label_and_expose", dockerfile: "FROM bp/busybox:1\nARG P=9000\nARG L=lbl\nEXPOSE $P\nLABEL l=$L\n", ..C },
    Case { name: "label_forms", dockerfile: "FROM bp/busybox:1\nLABEL a=1 \"b c\"=\"d e\"\nLABEL multi=\"one \\\n  two\"\nLABEL a=2\n", ..C },
    Case { name: "maintainer", dockerfile: "FROM bp/busybox:1\nMAINTAINER someone <a@example.org>\n", ..C },
    Case { name: "expose_forms", dockerfile: "FROM bp/busybox:1\nEXPOSE 80 53/udp 8000-8002\nEXPOSE 443/tcp\n", ..C },
    Case { name: "volume_forms", dockerfile: "FROM bp/busybox:1\nVOLUME /data\nVOLUME [\"/a\", \"/b\"]\nVOLUME /c /d\n", ..C },
    Case { name: "workdir_relative", dockerfile: "FROM bp/busybox:1\nWORKDIR /a\nWORKDIR b\nWORKDIR c\nRUN pwd > /pwd\n", runs: &["cat /pwd; pwd; ls -ld /a/b/c | cut -c1-10"], ..C },
    Case { name: "workdir_variable", dockerfile: "FROM bp/busybox:1\nENV D=/srv\nWORKDIR $D/app\n", runs: &["pwd"], ..C },
    Case { name: "workdir_existing", dockerfile: "FROM bp/busybox:1\nWORKDIR /tmp\nRUN touch here\n", runs: &["ls /tmp"], ..C },
    Case { name: "user_name", dockerfile: "FROM bp/busybox:1\nUSER nobody\nRUN id > /tmp/id.txt\n", runs: &["id; cat /tmp/id.txt; stat -c '%u:%g' /tmp/id.txt"], ..C },
    Case { name: "user_and_group", dockerfile: "FROM bp/busybox:1\nUSER app:staff\n", runs: &["id"], ..C },
    Case { name: "stopsignal", dockerfile: "FROM bp/busybox:1\nSTOPSIGNAL SIGKILL\n", ..C },
    Case { name: "healthcheck_exec", dockerfile: "FROM bp/busybox:1\nHEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD [\"true\"]\n", ..C },
    Case { name: "healthcheck_shell", dockerfile: "FROM bp/busybox:1\nHEALTHCHECK CMD test -e /tmp || exit 1\n", ..C },
    Case { name: "healthcheck_none", dockerfile: "FROM bp/busybox:1\nHEALTHCHECK NONE\n", ..C },
    Case { name: "shell_instruction", dockerfile: "FROM bp/busybox:1\nSHELL [\"/bin/sh\", \"-e\", \"-c\"]\nRUN echo $0 > /shell\nCMD echo via shell\n", run_default: true, runs: &["cat /shell"], ..C },
    Case { name: "onbuild_recorded", dockerfile: "FROM bp/busybox:1\nONBUILD RUN echo fired > /fired\nONBUILD ENV FROM_TRIGGER=1\n", ..C },
    Case { name: "onbuild_fires_in_child", dockerfile: "FROM bp/busybox:1 AS parent\nONBUILD RUN echo fired > /fired\nFROM parent\nRUN cat /fired > /seen\n", runs: &["cat /seen"], ..C },
    Case { name: "run_exec_form", dockerfile: "FROM bp/busybox:1\nRUN [\"sh\", \"-c\", \"echo exec $HOME > /x\"]\n", runs: &["cat /x"], ..C },
    Case { name: "run_continuations_and_comments", dockerfile: "FROM bp/busybox:1\nRUN echo a > /x \\\n# a comment inside\n  && echo b >> /x \\\n\n  && echo c >> /x\n", runs: &["cat /x"], ..C },
    Case { name: "run_changes_nothing", dockerfile: "FROM bp/busybox:1\nRUN true\nRUN echo hi\n", ..C },
    Case { name: "run_deletes_a_file", dockerfile: "FROM bp/busybox:1\nRUN rm /etc/group && mkdir -p /d/e && rm -r /root\n", runs: &["ls /etc; ls -d /root || echo gone"], ..C },
    Case { name: "escape_directive", dockerfile: "# escape=`\nFROM bp/busybox:1\nRUN echo C:\\path > /p `\n  && echo done >> /p\n", runs: &["cat /p"], ..C },
    Case { name: "copy_dir_contents", dockerfile: "FROM bp/busybox:1\nCOPY src /app/\n", files: &[("src/a.txt", "a\n"), ("src/sub/b.txt", "bb\n")], modes: &[("src/a.txt", 0o600), ("src/sub", 0o750)], runs: &[TREE], ..C },
    Case { name: "copy_wildcard", dockerfile: "FROM bp/busybox:1\nCOPY *.txt /app/\nCOPY s?b/*.md /app/md/\n", files: &[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.log", "c\n"), ("sub/x.md", "x\n")], runs: &[TREE], ..C },
    Case { name: "copy_rename_file", dockerfile: "FROM bp/busybox:1\nCOPY a.txt /app/renamed\nCOPY a.txt /app/dir/\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "copy_chown_names", dockerfile: "FROM bp/busybox:1\nCOPY --chown=app:staff a.txt src /app/\n", files: &[("a.txt", "a\n"), ("src/b", "b\n")], runs: &[TREE], ..C },
    Case { name: "copy_chown_uid_only", dockerfile: "FROM bp/busybox:1\nCOPY --chown=1000 a.txt /app/\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "copy_chmod", dockerfile: "FROM bp/busybox:1\nCOPY --chmod=751 a.txt /app/\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "copy_symlink", dockerfile: "FROM bp/busybox:1\nCOPY . /app/\n", files: &[("a.txt", "a\n"), ("link", "symlink:a.txt"), ("Dockerfile.ignored", "x")], runs: &["ls -l /app | grep -c link; readlink /app/link"], ..C },
    Case { name: "copy_relative_to_workdir", dockerfile: "FROM bp/busybox:1\nWORKDIR /app\nCOPY a.txt rel/\nCOPY a.txt .\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "copy_dest_variable", dockerfile: "FROM bp/busybox:1\nENV D=/app\nCOPY a.txt $D/x/\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "copy_into_symlinked_dir", dockerfile: "FROM bp/busybox:1\nRUN mkdir -p /real && ln -s /real /app\nCOPY a.txt /app/\n", files: &[("a.txt", "a\n")], runs: &["ls /real; readlink /app"], ..C },
    Case { name: "dockerignore", dockerfile: "FROM bp/busybox:1\nCOPY . /app/\n", files: &[(".dockerignore", "*.log\n!keep.log\nsub\n!sub/keep\n# comment\n"), ("a.txt", "a\n"), ("drop.log", "d\n"), ("keep.log", "k\n"), ("sub/gone", "g\n"), ("sub/keep", "k\n")], runs: &["cd /app && find . | sort"], ..C },
    Case { name: "copy_from_stage", dockerfile: "FROM bp/busybox:1 AS build\nRUN mkdir /out && echo built > /out/artifact && chown 1000:50 /out/artifact\nFROM bp/busybox:1\nCOPY --from=build /out /app/\n", runs: &[TREE], ..C },
    Case { name: "copy_from_index", dockerfile: "FROM bp/busybox:1\nRUN echo zero > /z\nFROM bp/busybox:1\nCOPY --from=0 /z /app/z\n", runs: &[TREE], ..C },
    Case { name: "copy_from_image", dockerfile: "FROM scratch\nCOPY --from=bp/busybox:1 /bin/busybox /app/busybox\n", ..C },
    Case { name: "stages_in_parallel", dockerfile: "FROM bp/busybox:1 AS a\nRUN echo a > /a\nFROM bp/busybox:1 AS b\nRUN echo b > /b\nFROM bp/busybox:1\nCOPY --from=a /a /app/\nCOPY --from=b /b /app/\n", runs: &["cat /app/a /app/b"], ..C },
    Case { name: "stage_chain", dockerfile: "FROM bp/busybox:1 AS one\nENV ONE=1\nFROM one AS two\nENV TWO=2\nFROM two\nRUN echo $ONE$TWO > /x\n", runs: &["cat /x"], ..C },
    Case { name: "target_skips_later_stages", dockerfile: "FROM bp/busybox:1 AS wanted\nRUN echo wanted > /w\nFROM bp/busybox:1 AS broken\nRUN exit 1\n", flags: &["--target", "wanted"], runs: &["cat /w"], ..C },
    Case { name: "unneeded_stage_is_skipped", dockerfile: "FROM bp/busybox:1 AS broken\nRUN exit 1\nFROM bp/busybox:1\nRUN echo fine > /f\n", runs: &["cat /f"], ..C },
    Case { name: "scratch", dockerfile: "FROM scratch\nCOPY a.txt /\nCMD [\"/a.txt\"]\n", files: &[("a.txt", "a\n")], ..C },
    Case { name: "add_local_tar", dockerfile: "FROM bp/busybox:1\nADD plain.tar /app/\nADD packed.tgz /app/z/\n", runs: &[TREE], ..C },
    Case { name: "add_plain_file", dockerfile: "FROM bp/busybox:1\nADD a.txt /app/\n", files: &[("a.txt", "a\n")], runs: &[TREE], ..C },
    Case { name: "add_url", dockerfile: "FROM bp/busybox:1\nADD {URL}/file.txt /app/\n", runs: &["cat /app/file.txt; stat -c '%a %u' /app/file.txt"], ..C },
    Case { name: "run_mount_cache", dockerfile: "FROM bp/busybox:1\nRUN --mount=type=cache,target=/cache echo x > /cache/f && ls /cache > /out\n", runs: &["cat /out; test -d /cache && echo dir stays; ls /cache | wc -l"], ..C },
    Case { name: "run_mount_tmpfs", dockerfile: "FROM bp/busybox:1\nRUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f && ls /scratch > /out\n", runs: &["cat /out; test -d /scratch && echo dir stays; ls /scratch | wc -l"], ..C },
    Case { name: "run_mount_bind", dockerfile: "FROM bp/busybox:1\nRUN --mount=type=bind,source=a.txt,target=/m/a.txt cat /m/a.txt > /out\n", files: &[("a.txt", "bound\n")], runs: &["cat /out"], ..C },
    Case { name: "run_mount_bind_from_stage", dockerfile: "FROM bp/busybox:1 AS s\nRUN echo from-stage > /f\nFROM bp/busybox:1\nRUN --mount=type=bind,from=s,source=/f,target=/m cat /m > /out\n", runs: &["cat /out"], ..C },
    Case { name: "legacy_builder_basics", dockerfile: "FROM bp/busybox:1\nENV A=1\nWORKDIR /w\nCOPY a.txt .\nRUN echo $A > /w/b\nCMD [\"cat\", \"/w/a.txt\", \"/w/b\"]\n", files: &[("a.txt", "a\n")], run_default: true, legacy: true, ..C },
    Case { name: "error_unknown_instruction", dockerfile: "FROM bp/busybox:1\nRUN true\nFROBNICATE x\n", ..C },
    Case { name: "error_missing_copy_source", dockerfile: "FROM bp/busybox:1\nCOPY nothere.txt /\n", ..C },
    Case { name: "error_copy_outside_context", dockerfile: "FROM bp/busybox:1\nCOPY ../x /\n", ..C },
    Case { name: "error_failing_run", dockerfile: "FROM bp/busybox:1\nRUN echo before\nRUN echo failing; exit 3\n", ..C },
    Case { name: "error_command_not_found", dockerfile: "FROM bp/busybox:1\nRUN [\"/nonexistent\"]\n", differs: "a command that is not found exits 127, as docker run says (Docker 20.10's BuildKit says exit code 1)", ..C },
    Case { name: "error_unknown_target", dockerfile: "FROM bp/busybox:1 AS a\nRUN true\n", flags: &["--target", "nope"], ..C },
    Case { name: "error_no_from", dockerfile: "RUN true\n", differs: "skiff names the line of the instruction before any FROM", ..C },
    Case { name: "error_unknown_flag", dockerfile: "FROM bp/busybox:1\nCOPY --bogus=1 a /\n", ..C },
    Case { name: "error_missing_base_image", dockerfile: "FROM 127.0.0.1:9/nothing:here\nRUN true\n", ..C },
];
