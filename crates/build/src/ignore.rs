//! `.dockerignore`: Docker's rules. Patterns are rooted at the context (a
//! leading `/` is dropped, paths are cleaned), `*` and `?` and `[...]` match
//! within one path element, `**` any number of elements, `!` makes an
//! exception, and the last pattern that matches a path decides. A pattern
//! that matches a directory excludes everything under it.
//!
//! File syntax: a line starting with `#` (in the first column) is a
//! comment; other lines are trimmed, blank ones skipped. A bad pattern
//! (`[` unclosed, a trailing `\`, a lone `!`) makes the whole file invalid.

/// A `.dockerignore` file (or `COPY --exclude` list) that was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IgnoreError(pub String);

#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    cleaned: String,
    exclusion: bool,
    how: How,
}

#[derive(Debug, Clone)]
enum How {
    Exact,
    /// `dir/**`: the text before the `**`.
    Prefix(String),
    /// `**/name`: the text after the `**`.
    Suffix(String),
    Tokens(Vec<Tok>),
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any characters but `/`.
    Star,
    /// `**/` inside a pattern: nothing, or anything ending in `/`.
    Dirs,
    /// `**` at the end of a pattern: anything.
    Any,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class(bool, Vec<(char, char)>),
    /// `^` outside a class: only matches at the start.
    Start,
}

const BAD_PATTERN: &str = "syntax error in pattern";

impl Matcher {
    /// From the lines of a `.dockerignore` file (comments with `#`, blank
    /// lines skipped). A bad pattern is left out; [`Matcher::try_parse`]
    /// reports it as Docker does.
    pub fn parse(text: &str) -> Matcher {
        let mut m = Matcher::default();
        for p in read_lines(text) {
            if let Ok(Some(p)) = Pattern::new(&p) {
                m.patterns.push(p);
            }
        }
        m
    }

    /// From the lines of a `.dockerignore` file; an error for a bad pattern.
    pub fn try_parse(text: &str) -> Result<Matcher, IgnoreError> {
        Matcher::new(&read_lines(text))
    }

    /// From patterns as given (`COPY --exclude`): no comment handling and
    /// no leading-`/` removal, an error for a bad pattern.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, IgnoreError> {
        let mut m = Matcher::default();
        for p in patterns {
            m.patterns.extend(Pattern::new(p.as_ref())?);
        }
        Ok(m)
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let file = clean_path(path.trim_start_matches('/'));
        if file == "." {
            return false;
        }
        let parents: Vec<&str> = match file.rfind('/') {
            Some(i) => file[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            if p.matches(&file) || p.matches_a_parent(&parents) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether an excluded directory `dir` may still hold paths an exception
    /// (`!pattern`) brings back, so a walker has to look inside it. `false`
    /// means everything under `dir` is excluded.
    pub fn may_include_under(&self, dir: &str) -> bool {
        let dir = clean_path(dir.trim_start_matches('/'));
        let parents: Vec<&str> = dir.split('/').collect();
        // The last exclude pattern that covers `dir`: exceptions before it
        // are overridden for everything below.
        let last = self
            .patterns
            .iter()
            .rposition(|p| !p.exclusion && p.matches_a_parent(&parents));
        let dir_slash = format!("{dir}/");
        self.patterns[last.map_or(0, |i| i + 1)..]
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| {
                let prefix = p.cleaned.strip_suffix("/**").unwrap_or(&p.cleaned);
                let prefix = prefix.strip_suffix("/*").unwrap_or(prefix);
                prefix.contains(['*', '[', ']', '?', '^', '\\'])
                    || format!("{prefix}/").starts_with(&dir_slash)
            })
    }

    /// Whether any pattern is an exception (`!`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

/// The patterns of a `.dockerignore` file, normalized.
fn read_lines(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut pat = String::new();
        if !p.is_empty() {
            pat = clean_path(p);
            if pat.len() > 1 && pat.starts_with('/') {
                pat.remove(0);
            }
        }
        out.push(if invert { format!("!{pat}") } else { pat });
    }
    out
}

/// A slash path cleaned as Go's `filepath.Clean`: no empty, `.` or
/// resolvable `..` elements; `.` for nothing.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for el in p.split('/') {
        match el {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            el => parts.push(el),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

impl Pattern {
    fn new(raw: &str) -> Result<Option<Pattern>, IgnoreError> {
        let p = raw.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let mut p = clean_path(p);
        let exclusion = p.starts_with('!');
        if exclusion {
            if p.len() == 1 {
                return Err(IgnoreError("illegal exclusion pattern: \"!\"".into()));
            }
            p.remove(0);
        }
        let chars: Vec<char> = p.chars().collect();
        validate(&chars).map_err(|_| IgnoreError(BAD_PATTERN.into()))?;
        let how = compile(&p, &chars);
        Ok(Some(Pattern {
            cleaned: p,
            exclusion,
            how,
        }))
    }

    fn matches(&self, path: &str) -> bool {
        match &self.how {
            How::Exact => path == self.cleaned,
            How::Prefix(p) => path.starts_with(p.as_str()),
            How::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            How::Tokens(toks) => {
                let text: Vec<char> = path.chars().collect();
                FullMatch::new(toks, &text).at(0, 0)
            }
        }
    }

    /// Whether the pattern matches one of the directories `dirs[..=i]`.
    fn matches_a_parent(&self, dirs: &[&str]) -> bool {
        (1..=dirs.len()).any(|i| self.matches(&dirs[..i].join("/")))
    }
}

/// A `[...]` class starting after the `[`: the token and where it ends.
fn class(chars: &[char], mut pos: usize) -> Result<(Tok, usize), ()> {
    let esc = |pos: &mut usize| -> Result<char, ()> {
        match chars.get(*pos) {
            None | Some('-' | ']') => return Err(()),
            Some('\\') => *pos += 1,
            Some(_) => {}
        }
        let c = *chars.get(*pos).ok_or(())?;
        *pos += 1;
        if *pos >= chars.len() {
            return Err(());
        }
        Ok(c)
    };
    let negated = chars.get(pos) == Some(&'^');
    if negated {
        pos += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(pos) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class(negated, ranges), pos + 1));
        }
        let lo = esc(&mut pos)?;
        let mut hi = lo;
        if chars.get(pos) == Some(&'-') {
            pos += 1;
            hi = esc(&mut pos)?;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `filepath.Match` syntax: classes well formed, no trailing `\`.
fn validate(chars: &[char]) -> Result<(), ()> {
    let mut pos = 0;
    while pos < chars.len() {
        match chars[pos] {
            '\\' if pos + 1 >= chars.len() => return Err(()),
            '\\' => pos += 2,
            '[' => pos = class(chars, pos + 1)?.1,
            _ => pos += 1,
        }
    }
    Ok(())
}

fn compile(cleaned: &str, chars: &[char]) -> How {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Tokens,
    }
    let mut kind = Kind::Exact;
    let mut toks = Vec::new();
    let mut pos = 0;
    let mut first = true;
    while pos < chars.len() {
        let c = chars[pos];
        pos += 1;
        match c {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::Any);
                        kind = Kind::Tokens;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    kind = Kind::Tokens;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Tokens;
            }
            '?' => {
                toks.push(Tok::One);
                kind = Kind::Tokens;
            }
            '\\' => match chars.get(pos) {
                Some(&n) => {
                    toks.push(Tok::Lit(n));
                    pos += 1;
                    kind = Kind::Tokens;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                // Validated: the class is well formed.
                let (tok, end) = class(chars, pos).unwrap_or((Tok::Lit('['), pos));
                toks.push(tok);
                pos = end;
                kind = Kind::Tokens;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                kind = Kind::Tokens;
            }
            '^' => toks.push(Tok::Start),
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    match kind {
        Kind::Exact => How::Exact,
        Kind::Prefix => How::Prefix(cleaned[..cleaned.len() - 2].to_string()),
        Kind::Suffix => How::Suffix(cleaned[2..].to_string()),
        Kind::Tokens => How::Tokens(toks),
    }
}

/// Whether the tokens match the whole text.
struct FullMatch<'a> {
    toks: &'a [Tok],
    text: &'a [char],
    memo: Vec<Option<bool>>,
}

impl<'a> FullMatch<'a> {
    fn new(toks: &'a [Tok], text: &'a [char]) -> Self {
        FullMatch {
            toks,
            text,
            memo: vec![None; (toks.len() + 1) * (text.len() + 1)],
        }
    }

    fn at(&mut self, ti: usize, p: usize) -> bool {
        let key = ti * (self.text.len() + 1) + p;
        if let Some(r) = self.memo[key] {
            return r;
        }
        let r = self.compute(ti, p);
        self.memo[key] = Some(r);
        r
    }

    fn compute(&mut self, ti: usize, p: usize) -> bool {
        let Some(tok) = self.toks.get(ti) else {
            return p == self.text.len();
        };
        let here = self.text.get(p).copied();
        match tok {
            Tok::Lit(c) => here == Some(*c) && self.at(ti + 1, p + 1),
            Tok::One => here.is_some_and(|c| c != '/') && self.at(ti + 1, p + 1),
            Tok::Class(neg, ranges) => {
                here.is_some_and(|c| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *neg)
                    && self.at(ti + 1, p + 1)
            }
            Tok::Start => p == 0 && self.at(ti + 1, p),
            Tok::Star => {
                let run = self.text[p..].iter().take_while(|c| **c != '/').count();
                (0..=run).any(|k| self.at(ti + 1, p + k))
            }
            Tok::Any => {
                let run = self.text[p..].iter().take_while(|c| **c != '\n').count();
                (0..=run).any(|k| self.at(ti + 1, p + k))
            }
            Tok::Dirs => {
                if self.at(ti + 1, p) {
                    return true;
                }
                let run = self.text[p..].iter().take_while(|c| **c != '\n').count();
                (1..=run).any(|k| self.text[p + k - 1] == '/' && self.at(ti + 1, p + k))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Matcher {
        Matcher::try_parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn cleaning_paths() {
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("a//b/./c/.."), "a/b");
        assert_eq!(clean_path("/../a/"), "/a");
        assert_eq!(clean_path("../../a"), "../../a");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn file_syntax() {
        let t =
            "\u{feff}# comment\n  node_modules  \n\n /build/ \n #not a comment\n!./build/keep\n";
        assert_eq!(
            read_lines(t),
            ["node_modules", "build", "#not a comment", "!build/keep"]
        );
        assert_eq!(read_lines("!\n/\n! /a/../b\n"), ["!", "/", "!b"]);
        let mat = m(t);
        assert!(mat.excluded("node_modules"));
        assert!(mat.excluded("node_modules/x/y.js"));
        assert!(mat.excluded("build/out.o"));
        assert!(!mat.excluded("build/keep"));
        assert!(!mat.excluded("build/keep/deeper"));
        assert!(mat.excluded("#not a comment"));
        assert!(!mat.excluded("src/node_modules"));
        assert!(!mat.excluded("."));
        assert!(!mat.excluded(""));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(
            Matcher::try_parse("!\n").unwrap_err().0,
            "illegal exclusion pattern: \"!\""
        );
        for bad in ["[", "a[", "[]", "[^]", "[a-]", "[-a]", "a\\", "[a"] {
            assert_eq!(
                Matcher::try_parse(bad).unwrap_err().0,
                "syntax error in pattern",
                "{bad}"
            );
        }
        // The lenient parse drops the bad pattern only.
        let mat = Matcher::parse("[\n*.log\n");
        assert!(mat.excluded("a.log"));
    }

    #[test]
    fn wildcards() {
        let mat = m("*.md\ndocs/*/draft-?.txt\n**/*.tmp\nlogs/**\n[a-c]x.bin\ncache/[!n]*\n");
        assert!(mat.excluded("README.md"));
        assert!(!mat.excluded("docs/README.md"));
        assert!(mat.excluded("docs/v1/draft-1.txt"));
        assert!(!mat.excluded("docs/v1/draft-12.txt"));
        assert!(!mat.excluded("docs/a/b/draft-1.txt"));
        assert!(mat.excluded("x.tmp"));
        assert!(mat.excluded("a/b/c/x.tmp"));
        assert!(mat.excluded("logs/a/b"));
        assert!(!mat.excluded("logs"));
        assert!(mat.excluded("bx.bin"));
        assert!(!mat.excluded("dx.bin"));
        assert!(mat.excluded("cache/!x"));
        assert!(!mat.excluded("cache/x"));
    }

    #[test]
    fn double_star_forms() {
        let mat = m("**/vendor\n");
        assert!(mat.excluded("vendor"));
        assert!(mat.excluded("a/vendor"));
        assert!(mat.excluded("a/vendor/x"));
        assert!(!mat.excluded("a/vendors"));
        let mat = m("a/**/b\n");
        assert!(mat.excluded("a/b"));
        assert!(mat.excluded("a/x/y/b"));
        assert!(!mat.excluded("a/xb"));
        assert!(m("**\n").excluded("anything/at/all"));
        // `**` then text: a plain suffix test, as Docker does it.
        assert!(m("**foo\n").excluded("barfoo"));
        let mat = m("a**\n");
        assert!(mat.excluded("abc/d"));
        assert!(mat.excluded("a"));
    }

    #[test]
    fn escapes_and_regex_characters() {
        let mat = m("a\\*b\nv1.0+(x)|{y}$\n\\[z\\]\n");
        assert!(mat.excluded("a*b"));
        assert!(!mat.excluded("axb"));
        assert!(mat.excluded("v1.0+(x)|{y}$"));
        assert!(!mat.excluded("v1x0+(x)|{y}$"));
        assert!(mat.excluded("[z]"));
        // `^` is an anchor when the pattern is a regular expression.
        assert!(!m("a^*\n").excluded("a^b"));
        assert!(m("a^b\n").excluded("a^b"));
    }

    #[test]
    fn exceptions_and_order() {
        let mat = m("*.md\n!README.md\n");
        assert!(mat.excluded("CHANGES.md"));
        assert!(!mat.excluded("README.md"));
        // The last matching pattern decides.
        let mat = m("!README.md\n*.md\n");
        assert!(mat.excluded("README.md"));
        let mat = m("docs\n!docs/keep\ndocs/keep/secret\n");
        assert!(mat.excluded("docs/a"));
        assert!(!mat.excluded("docs/keep/b"));
        assert!(mat.excluded("docs/keep/secret/c"));
        assert!(mat.has_exceptions());
        assert!(!m("a\n").has_exceptions());
    }

    #[test]
    fn descending_into_excluded_directories() {
        let mat = m("build\n!build/keep\nnode_modules\n");
        assert!(mat.may_include_under("build"));
        assert!(!mat.may_include_under("build/other"));
        assert!(mat.may_include_under("build/keep"));
        assert!(!mat.may_include_under("node_modules"));
        let mat = m("build\n!**/*.keep\n");
        assert!(mat.may_include_under("build"));
        // An exception before the pattern that excludes the directory is overridden.
        let mat = m("!build/keep\nbuild\n");
        assert!(!mat.may_include_under("build"));
        let mat = m("cache\n!cache/a/*\n");
        assert!(mat.may_include_under("cache/a"));
        assert!(!mat.may_include_under("cache/b"));
    }

    #[test]
    fn exclude_lists_as_given() {
        let mat = Matcher::new(&["*.txt", "!keep.txt"]).unwrap();
        assert!(mat.excluded("a.txt"));
        assert!(!mat.excluded("keep.txt"));
        assert!(Matcher::new(&["[x"]).is_err());
    }
}
