//! Go's text/template, the part Docker users write in `--format`/`-f`, over a
//! JSON value: `{{.A.B}}`, `{{.}}`, `{{json .X}}`, `{{index .X "k" 0}}`,
//! `{{join .X ", "}}`, `{{len .X}}`, `{{upper .X}}`, `{{lower .X}}`,
//! `{{split .X ":"}}`, `{{printf "%s-%d" .A .B}}`, `{{eq .A "x"}}`, `ne`, `not`,
//! `and`, `or`, pipelines (`{{.X | json}}`), parentheses, string and number
//! literals, `{{if}}`/`{{else}}`/`{{end}}`, `{{range}}` (with `{{else}}`),
//! `{{with}}`, and the `{{-`/`-}}` trim markers. Values print as Go prints
//! them: integral numbers without a fraction, `map[k:v]` for objects,
//! `[a b]` for arrays, `<no value>` for a missing field.

use serde_json::Value;

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use eval::go_time;

/// Render `tmpl` with `data` as the dot.
pub fn render(tmpl: &str, data: &Value) -> Result<String, String> {
    render_with(tmpl, data, &Options::default())
}

/// How a document's gaps render.
#[derive(Default)]
pub struct Options {
    /// A missing map key is an error (`map has no entry for key "X"`), as
    /// for Docker's `inspect -f`; else it prints `<no value>`.
    pub missing_key_error: bool,
    /// What a null under this key stands for in the Go struct: `"[]"` (a
    /// nil slice), `"map[]"` (a nil map), `""` (an empty string); None
    /// keeps `<nil>`.
    pub null_as: Option<NullAs>,
}

/// See [`Options::null_as`].
pub type NullAs = fn(&str) -> Option<&'static str>;

thread_local! {
    static VARS: std::cell::RefCell<Vec<(String, Value)>> = const { std::cell::RefCell::new(Vec::new()) };
    static OPTS: std::cell::RefCell<(bool, Option<NullAs>)> =
        const { std::cell::RefCell::new((false, None)) };
}

/// [`render`] with options.
pub fn render_with(tmpl: &str, data: &Value, o: &Options) -> Result<String, String> {
    let nodes = parse::parse(tmpl)?;
    let mut out = String::new();
    VARS.with(|v| *v.borrow_mut() = vec![("$".into(), data.clone())]);
    OPTS.with(|x| *x.borrow_mut() = (o.missing_key_error, o.null_as));
    let r = eval::exec(&nodes, data, &mut out);
    VARS.with(|v| v.borrow_mut().clear());
    OPTS.with(|x| *x.borrow_mut() = (false, None));
    r?;
    Ok(out)
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    /// An action; with variables (`$x := ...`) it declares and prints nothing.
    Action(Vec<String>, Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    /// `range [$k, $v :=] pipe`.
    Range(Vec<String>, Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// Commands separated by `|`; each command's result is the last argument
/// of the next.
type Pipe = Vec<Vec<Arg>>;

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty path: the dot itself).
    Field(Vec<String>),
    /// `$`, `$x`, `$x.A.B`.
    Var(String, Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipe),
}
