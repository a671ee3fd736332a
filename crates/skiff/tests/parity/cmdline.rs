//! Command lines: the image names, the shorthands, `words` and `cl!`.

/// The busybox image both engines have, under the same name.
pub(crate) const IMG: &str = "parity/busybox:1";
/// The same root filesystem with ENV, WORKDIR and CMD in its config.
pub(crate) const IMG_CFG: &str = "parity/busybox:cfg";

/// Shorthands in command lines: skiff's run without --network is `none`,
/// so both always get `--network none`.
pub(crate) const SHORTHANDS: [(&str, &str); 5] = [
    ("RUN", "run --rm --network none"),
    ("DRUN", "run -d --network none"),
    ("CREATE", "create --network none"),
    ("IMG_CFG", IMG_CFG),
    ("IMG", IMG),
];

/// A command line's words: the shorthands expanded, then split at spaces
/// ('...' and "..." keep their spaces, no escapes inside), then `{NAME}` in
/// each word replaced by the given value (which stays one word).
pub(crate) fn words(line: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let mut l = line.to_string();
    for (k, v) in SHORTHANDS {
        l = l.replace(&format!("{{{k}}}"), v);
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut quoted = false;
    for ch in l.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                quoted = true;
            }
            None if ch == ' ' => {
                if quoted || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                quoted = false;
            }
            None => cur.push(ch),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    if quoted || !cur.is_empty() {
        out.push(cur);
    }
    for w in &mut out {
        for (k, v) in vars {
            *w = w.replace(&format!("{{{k}}}"), v);
        }
    }
    out
}

/// `cl!("{RUN} --name {n} {IMG} true", n)`: the words of a command line,
/// with variables (String or &str) by name.
macro_rules! cl {
    ($line:expr $(, $v:ident)* $(,)?) => {
        words($line, &[$((stringify!($v), AsRef::<str>::as_ref(&$v))),*])
    };
}
