//! Docker's word processing for Dockerfile instructions: quote removal and
//! variable expansion (`$v`, `${v}`, `${v:-w}`, `${v-w}`, `${v:+w}`,
//! `${v+w}`, `${v:?msg}`, `${v?msg}`, `${v#p}`, `${v##p}`, `${v%p}`,
//! `${v%%p}`, `${v/p/r}`, `${v//p/r}`), with the Dockerfile's escape character.
//!
//! The rules, as Docker applies them:
//! - outside quotes the escape character makes the next character literal
//!   (an escape at the very end is dropped);
//! - single quotes keep everything literal up to the next single quote;
//! - double quotes keep everything literal except `$` expansions and the
//!   escape character before `"`, `$` or itself;
//! - an unset variable expands to the empty string;
//! - [`Lexer::process_words`] splits on unquoted whitespace *after*
//!   expansion: an unquoted `$v` whose value holds spaces gives several
//!   words, a quoted one stays one word; an empty quoted word (`""`) is
//!   dropped.

mod pattern;
#[cfg(test)]
mod tests;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShellError(pub String);

/// Looks a variable up (the ARG and ENV values in scope).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Lexer {
    pub escape: char,
}

impl Lexer {
    pub fn new(escape: char) -> Lexer {
        Lexer { escape }
    }

    /// One word: quotes removed, variables expanded.
    pub fn process_word(&self, word: &str, env: Env<'_>) -> Result<String, ShellError> {
        process(word, self.escape, Options::default(), env).map(|(w, _)| w)
    }

    /// Words split on unquoted whitespace (after expansion, as Docker's
    /// `ProcessWords`): quotes removed, variables expanded.
    pub fn process_words(&self, text: &str, env: Env<'_>) -> Result<Vec<String>, ShellError> {
        process(text, self.escape, Options::default(), env).map(|(_, w)| w)
    }
}

/// How the lexer treats quotes, escapes and unset variables. The defaults are
/// what instructions get; the parser uses the raw variants to find heredocs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Keep the quote characters in the output.
    pub raw_quotes: bool,
    /// Keep the escape characters in the output.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written.
    pub skip_unset_env: bool,
}

/// Runs the lexer over `text`: the processed text as one word, and the words.
pub(crate) fn process(
    text: &str,
    escape: char,
    opts: Options,
    env: Env<'_>,
) -> Result<(String, Vec<String>), ShellError> {
    let mut sc = Scanner {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        opts,
        raw_escapes: opts.raw_escapes,
        env,
    };
    sc.stop_on(None, opts.raw_escapes)
        .map_err(|e| ShellError(format!("failed to process {}: {e}", go_quote(text))))
}

/// A string quoted as Go's `%q` does.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The character Go prints for a read past the end.
const EOF_CHAR: char = '\u{FFFD}';

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

/// Shell special parameters (`$@`, `$#`, ...): never set in a Dockerfile.
fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// Builds the words of `process_words`.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if is_space(c) {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.buf.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for c in s.chars() {
            self.add_char(c);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

struct Scanner<'e> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    opts: Options,
    /// The current escape handling (`${v#p}` and friends keep escapes).
    raw_escapes: bool,
    env: Env<'e>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// Processes up to `stop` (consumed) or the end of input.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let res = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        res
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '<' => {
                    let v = self.possible_heredoc();
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '\'' => {
                    let v = self.single_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '"' => {
                    let v = self.double_quote()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        if self.raw_escapes {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                        let Some(n) = self.next() else { break };
                        words.add_raw_char(n);
                        result.push(n);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next();
        if self.opts.raw_quotes {
            out.extend(q);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.opts.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next();
        if self.opts.raw_quotes {
            out.extend(q);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.opts.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(mut c) => {
                    self.next();
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            // An escape at the end: the missing quote is reported next.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                c = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// `<<` and the blanks after it stay together (one word).
    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.peek().filter(|d| is_digit(*d)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && is_special_param(c) {
                self.next();
                return c.to_string();
            }
            if !is_letter(c) && !is_digit(c) && c != '_' {
                break;
            }
            self.next();
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.opts.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let ch = self.next();
        match ch {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.opts.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(c @ (':' | '+' | '-' | '?' | '#' | '%')) => self.modifier(&name, c),
            Some('/') => self.replace(&name),
            other => Err(format!(
                "unsupported modifier ({}) in substitution",
                other.unwrap_or(EOF_CHAR)
            )),
        }
    }

    /// `${name<op>word}` after the operator's first character.
    fn modifier(&mut self, name: &str, first: char) -> Result<String, String> {
        let mut chs = first.to_string();
        let mut op = Some(first);
        let null_is_unset = first == ':';
        if null_is_unset {
            op = self.next();
            chs.push(op.unwrap_or(EOF_CHAR));
        }
        let keep_escapes = matches!(op, Some('#' | '%'));
        if null_is_unset && keep_escapes {
            return Err(format!("unsupported modifier ({chs}) in substitution"));
        }
        let word = match self.stop_on(Some('}'), keep_escapes) {
            Ok((w, _)) => w,
            Err(_) if self.peek().is_none() => return Err("syntax error: missing '}'".into()),
            Err(e) => return Err(e),
        };
        let value = self.get_env(name);
        if value.is_none() && self.opts.skip_unset_env {
            return Ok(format!("${{{name}{chs}{word}}}"));
        }
        let set = value.is_some();
        let value = value.unwrap_or_default();
        let unset = !set || (null_is_unset && value.is_empty());
        match op {
            Some('-') => Ok(if unset { word } else { value }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => {
                if !set {
                    let msg = if word.is_empty() {
                        "is not allowed to be unset"
                    } else {
                        &word
                    };
                    return Err(format!("{name}: {msg}"));
                }
                if null_is_unset && value.is_empty() {
                    let msg = if word.is_empty() {
                        "is not allowed to be empty"
                    } else {
                        &word
                    };
                    return Err(format!("{name}: {msg}"));
                }
                Ok(value)
            }
            Some(c @ ('#' | '%')) => {
                let (greedy, pat) = match word.strip_prefix(c) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                if c == '%' {
                    pattern::trim_suffix(pat, &value, greedy)
                } else {
                    pattern::trim_prefix(pat, &value, greedy)
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn replace(&mut self, name: &str) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pat = match self.stop_on(Some('/'), true) {
            Ok((w, _)) => w,
            Err(_) if self.peek().is_none() => {
                return Err("syntax error: missing '/' in ${}".into())
            }
            Err(e) => return Err(e),
        };
        let repl = match self.stop_on(Some('}'), true) {
            Ok((w, _)) => w,
            Err(_) if self.peek().is_none() => return Err("syntax error: missing '}'".into()),
            Err(e) => return Err(e),
        };
        let Some(value) = self.get_env(name) else {
            if self.opts.skip_unset_env {
                return Ok(format!("${{{name}/{pat}/{repl}}}"));
            }
            return pattern::replace("", &pat, &repl, all);
        };
        pattern::replace(&value, &pat, &repl, all)
    }
}
