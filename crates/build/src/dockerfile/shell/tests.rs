use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "KOREAN" => Some("한국어".into()),
        "NULL" => Some(String::new()),
        "space" => Some("abc  def".into()),
        "leading" => Some("  ab c".into()),
        "trailing" => Some("ab c   ".into()),
        "file" => Some("dir/sub/name.tar.gz".into()),
        "multi" => Some("a-b-c-b".into()),
        _ => None,
    }
}

fn word(s: &str) -> Result<String, ShellError> {
    Lexer::new('\\').process_word(s, &env)
}

fn w(s: &str) -> String {
    word(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn words(s: &str) -> Vec<String> {
    Lexer::new('\\')
        .process_words(s, &env)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(w("hello"), "hello");
    assert_eq!(w("he'll'o"), "hello");
    assert_eq!(w(r"he\'llo"), "he'llo");
    assert_eq!(w(r"abc\tdef"), "abctdef");
    assert_eq!(w(r#""abc\tdef""#), r"abc\tdef");
    assert_eq!(w(r#""abc\\tdef""#), r"abc\tdef");
    assert_eq!(w(r"'abc\tdef'"), r"abc\tdef");
    assert_eq!(w(r"hello\"), "hello");
    assert_eq!(w(r"hello\\"), r"hello\");
    assert_eq!(w(r#""hel'lo""#), "hel'lo");
    assert_eq!(w(r"'hello\'"), r"hello\");
    assert_eq!(w(r#""''""#), "''");
    assert_eq!(w(r#"'"hello"'"#), r#""hello""#);
    assert_eq!(w("안'녕'하세요"), "안녕하세요");
}

#[test]
fn unterminated_quotes_are_errors() {
    for bad in [
        "he'llo",
        r"he\\'llo",
        r#""hello"#,
        r#""hello\""#,
        "'hello",
        "안'녕하세요",
    ] {
        assert!(word(bad).is_err(), "{bad:?} should fail");
    }
    assert_eq!(
        word("'abc").unwrap_err().0,
        "failed to process \"'abc\": unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        word("\"abc").unwrap_err().0,
        "failed to process \"\\\"abc\": unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn simple_variables() {
    assert_eq!(w("$."), "$.");
    assert_eq!(w("he$1x"), "hex");
    assert_eq!(w("he$.x"), "he$.x");
    assert_eq!(w("he$pwd."), "he.");
    assert_eq!(w("he$PWD"), "he/home");
    assert_eq!(w(r"he\$PWD"), "he$PWD");
    assert_eq!(w(r"he\\$PWD"), r"he\/home");
    assert_eq!(w(r#""he\$PWD""#), "he$PWD");
    assert_eq!(w(r#""he\\$PWD""#), r"he\/home");
    assert_eq!(w("'$PWD'"), "$PWD");
    assert_eq!(w(r"'\$PWD'"), r"\$PWD");
    assert_eq!(w(r#""he'$PWD'""#), "he'/home'");
    assert_eq!(w("안녕$KOREAN"), "안녕한국어");
    assert_eq!(w("$"), "$");
    assert_eq!(w("a$"), "a$");
}

#[test]
fn braced_variables() {
    assert_eq!(w(r"\${}"), "${}");
    assert_eq!(w(r"he\${}xx"), "he${}xx");
    assert_eq!(w("he${hi}xx"), "hexx");
    assert_eq!(w("he${PWD}"), "he/home");
    assert_eq!(w("${aaa}}"), "}");
    assert_eq!(w("\"he${PWD}\""), "he/home");
    assert_eq!(w("'he${XX}'"), "he${XX}");
    for bad in [
        "${}", "he${}xx", "he${.}", "he${PWD", "${{aaa}", "${aaa", "${:}", "${:-bbb}",
    ] {
        assert!(word(bad).is_err(), "{bad:?} should fail");
    }
    assert_eq!(
        word("${}").unwrap_err().0,
        "failed to process \"${}\": syntax error: bad substitution"
    );
    assert_eq!(
        word("a${").unwrap_err().0,
        "failed to process \"a${\": syntax error: missing '}'"
    );
}

#[test]
fn default_and_alternative_values() {
    assert_eq!(w("he${XXX:-000}xx"), "he000xx");
    assert_eq!(w("he${PWD:-000}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-$PWD}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-${PWD:-yyy}}xx"), "he/homexx");
    assert_eq!(w("he${XXX:-${YYY:-yyy}}xx"), "heyyyxx");
    assert_eq!(w("he${XXX:+${PWD}}xx"), "hexx");
    assert_eq!(w("he${PWD:+${XXX}}xx"), "hexx");
    assert_eq!(w("he${PWD:+${SHELL}}xx"), "hebashxx");
    assert_eq!(w("he${XXX:+000}xx"), "hexx");
    assert_eq!(w("he${PWD:+000}xx"), "he000xx");
    assert_eq!(w("he${PWD:+${PWD}:}xx"), "he/home:xx");
    assert_eq!(w(r"he${XXX:-\$PWD:}xx"), "he$PWD:xx");
    assert_eq!(w(r"he${XXX:-\${PWD}z}xx"), "he${PWDz}xx");
    assert_eq!(w("${aaa:-bbb}}"), "bbb}");
    assert_eq!(w("${aaa:-bbb {foo}"), "bbb {foo");
    // Without the colon, only an unset variable takes the default.
    assert_eq!(w("${NULL-def}"), "");
    assert_eq!(w("${NULL:-def}"), "def");
    assert_eq!(w("${NULL+alt}"), "alt");
    assert_eq!(w("${NULL:+alt}"), "");
    assert_eq!(w("${XXX-def}"), "def");
    assert_eq!(w("${XXX+alt}"), "");
    assert!(word("he${XXX:YYY}").is_err());
    assert!(word("he${PWD:=000}xx").is_err());
    assert!(word("${aaa:-bbb ${foo}").is_err());
    assert_eq!(
        word("${a:=b}").unwrap_err().0,
        "failed to process \"${a:=b}\": unsupported modifier (:=) in substitution"
    );
}

#[test]
fn required_values() {
    assert_eq!(w("he${PWD?}"), "he/home");
    assert_eq!(w("he${PWD:?}"), "he/home");
    assert_eq!(w("he${NULL?}"), "he");
    assert_eq!(
        word("he${XXX?}").unwrap_err().0,
        "failed to process \"he${XXX?}\": XXX: is not allowed to be unset"
    );
    assert_eq!(
        word("${NULL:?}").unwrap_err().0,
        "failed to process \"${NULL:?}\": NULL: is not allowed to be empty"
    );
    assert_eq!(
        word("${XXX:?set it please}").unwrap_err().0,
        "failed to process \"${XXX:?set it please}\": XXX: set it please"
    );
}

#[test]
fn positional_and_special_parameters_are_unset() {
    assert_eq!(w("$999aaa"), "aaa");
    assert_eq!(w("${001:-bbb}aaa"), "bbbaaa");
    assert_eq!(w("$@@@"), "@@");
    assert_eq!(w("${#:-bbb}"), "bbb");
    assert_eq!(w("$$"), "");
    assert_eq!(w("${0:+bbb}"), "");
}

#[test]
fn prefix_and_suffix_removal() {
    assert_eq!(w("${file#*/}"), "sub/name.tar.gz");
    assert_eq!(w("${file##*/}"), "name.tar.gz");
    assert_eq!(w("${file%.*}"), "dir/sub/name.tar");
    assert_eq!(w("${file%%.*}"), "dir/sub/name");
    assert_eq!(w("${file#nomatch}"), "dir/sub/name.tar.gz");
    assert_eq!(w("${file%?z}"), "dir/sub/name.tar.");
    assert_eq!(w(r"${PWD#\/}"), "home");
    assert_eq!(w("${XXX#a}"), "");
    assert!(word("${file:#x}").is_err());
    assert_eq!(
        word(r"${file#\a}").unwrap_err().0,
        r#"failed to process "${file#\\a}": invalid pattern (\a) in substitution: invalid escape '\a'"#
    );
}

#[test]
fn pattern_replacement() {
    assert_eq!(w("${multi/b/X}"), "a-X-c-b");
    assert_eq!(w("${multi//b/X}"), "a-X-c-X");
    assert_eq!(w("${multi//-/}"), "abcb");
    assert_eq!(w("${multi/b*/X}"), "a-X");
    assert_eq!(w("${file/.tar.gz/.tgz}"), "dir/sub/name.tgz");
    assert_eq!(w("${multi/zz/X}"), "a-b-c-b");
    assert_eq!(w("${XXX/a/b}"), "");
    assert_eq!(
        word("${multi/b").unwrap_err().0,
        "failed to process \"${multi/b\": syntax error: missing '/' in ${}"
    );
}

#[test]
fn backtick_escape_keeps_backslashes() {
    let lx = Lexer::new('`');
    assert_eq!(
        lx.process_word(r"C:\dir\file", &env).unwrap(),
        r"C:\dir\file"
    );
    assert_eq!(lx.process_word("a`$PWD", &env).unwrap(), "a$PWD");
    assert_eq!(lx.process_word("a$PWD", &env).unwrap(), "a/home");
    assert_eq!(lx.process_word("\"a`\"b\"", &env).unwrap(), "a\"b");
    assert_eq!(lx.process_word(r#""a\b""#, &env).unwrap(), r"a\b");
}

#[test]
fn words_split_after_expansion() {
    assert_eq!(words("hello"), ["hello"]);
    assert_eq!(words("hello${hi}bye"), ["hellobye"]);
    assert_eq!(words("hello${space}bye"), ["helloabc", "defbye"]);
    assert_eq!(words("hello\"${space}\"bye"), ["helloabc  defbye"]);
    assert_eq!(words("hello \"${space}\"bye"), ["hello", "abc  defbye"]);
    assert_eq!(words("hello${leading}def"), ["hello", "ab", "cdef"]);
    assert_eq!(words("hello\"${leading}\" def"), ["hello  ab c", "def"]);
    assert_eq!(words("hello${trailing}d"), ["helloab", "c", "d"]);
    assert_eq!(words("hel\"lo${trailing}\""), ["helloab c   "]);
    assert_eq!(words("hello\" there  \""), ["hello there  "]);
    assert_eq!(words("hello there     "), ["hello", "there"]);
    assert_eq!(words(r"hello\ there"), ["hello there"]);
    assert_eq!(words(r#"hello\" there"#), ["hello\"", "there"]);
    assert_eq!(words(r#"hello"\\there""#), [r"hello\there"]);
    assert_eq!(words(r"hello'\\there'"), [r"hello\\there"]);
    assert_eq!(words("hello'$there'"), ["hello$there"]);
    assert_eq!(words("a \"\" b"), ["a", "b"]);
    assert_eq!(words("cat << EOF"), ["cat", "<< EOF"]);
    assert!(Lexer::new('\\')
        .process_words("hello\" there", &env)
        .is_err());
}

#[test]
fn raw_options_keep_quotes_escapes_and_unset_variables() {
    let opts = Options {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
    };
    let none = |_: &str| None;
    let (_, ws) = process(r#"RUN <<'EOF' a\ b "$X" ${Y:-z}"#, '\\', opts, &none).unwrap();
    assert_eq!(ws, ["RUN", "<<'EOF'", r"a\ b", "\"$X\"", "${Y:-z}"]);
}

#[test]
fn go_quoting() {
    assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    assert_eq!(go_quote("é"), "\"é\"");
}
