//! Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`, `<< EOF`) and the
//! heredocs a RUN / COPY / ADD line opens.

use crate::dockerfile::shell::{self, Options};

/// A heredoc as the line opens it; `content` is filled from the lines that follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawHeredoc {
    pub name: String,
    /// The body as read (line endings kept, tabs not yet removed).
    pub content: String,
    pub expand: bool,
    /// `<<-`: leading tabs are removed from the body and the terminator.
    pub chomp: bool,
}

impl RawHeredoc {
    /// The body as the instruction uses it (leading tabs gone with `<<-`).
    pub fn body(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Removes the leading tabs of every line.
pub(super) fn chomp(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

fn is_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// The heredoc a single word opens, if it is one: `[fd]<<[-][blanks]word`
/// where the word holds no `<` and lexes to exactly one word. A delimiter
/// with quotes in it (anywhere) turns expansion off.
pub(super) fn parse_heredoc(src: &str) -> Result<Option<RawHeredoc>, String> {
    let after_fd = src.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(after) = after_fd.strip_prefix("<<") else {
        return Ok(None);
    };
    let chomp = after.starts_with('-');
    let rest = after.strip_prefix('-').unwrap_or(after);
    let rest = rest.trim_start_matches(is_regex_space);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let none = |_: &str| None;
    let lex = |raw_quotes: bool| {
        let opts = Options {
            raw_quotes,
            raw_escapes: false,
            skip_unset_env: true,
        };
        shell::process(rest, '\\', opts, &none)
            .map(|(_, w)| w)
            .map_err(|e| e.0)
    };
    let words = lex(false)?;
    let [word] = words.as_slice() else {
        return Ok(None);
    };
    let raw = lex(true)?;
    let [raw_word] = raw.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    Ok(Some(RawHeredoc {
        name: word.clone(),
        content: String::new(),
        expand: quotes(word) == quotes(raw_word),
        chomp,
    }))
}

/// The heredocs a line opens, in order (quoted `<<` words are not heredocs).
pub(super) fn heredocs_from_line(line: &str) -> Result<Vec<RawHeredoc>, String> {
    let opts = Options {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
    };
    let none = |_: &str| None;
    let words = shell::process(line, '\\', opts, &none)
        .map(|(_, w)| w)
        .unwrap_or_default();
    let mut docs = Vec::new();
    for w in &words {
        if let Some(h) = parse_heredoc(w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_words() {
        for src in [
            "<<EOF",
            "<<'EOF'",
            "<<\"EOF\"",
            "<<-EOF",
            "<<-'EOF'",
            "<<EO\"F\"",
            "<< EOF",
            "<<- EOF",
            "12<<EOF",
        ] {
            let h = parse_heredoc(src)
                .unwrap()
                .unwrap_or_else(|| panic!("{src}"));
            assert_eq!(h.name, "EOF", "{src}");
        }
        assert!(parse_heredoc("<<-EOF").unwrap().unwrap().chomp);
        assert!(!parse_heredoc("<<EO\"F\"").unwrap().unwrap().expand);
        for src in [
            "", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh", "a<<EOF",
        ] {
            assert_eq!(parse_heredoc(src).unwrap(), None, "{src}");
        }
        for src in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc(src).is_err(), "{src}");
        }
    }

    #[test]
    fn heredocs_of_a_line() {
        let names = |line: &str| -> Vec<String> {
            heredocs_from_line(line)
                .unwrap()
                .into_iter()
                .map(|h| h.name)
                .collect()
        };
        assert_eq!(names("RUN <<-EOF"), ["EOF"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert_eq!(names("RUN 4<<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<EOF <<EOF2"), ["EOF", "EOF2"]);
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names("RUN \"<<EOF\"").is_empty());
        assert_eq!(chomp("\ta\n\t\tb\n c\n"), "a\nb\n c\n");
    }
}
