//! `kube get`: tables (`-o wide`), `-o yaml|json|name|jsonpath=`, label
//! selectors, one namespace or all.

use super::output::{self, Format};
use super::{failure, kinds, message, selector, usage, Failure, Result};
use skiff_kube::printers;
use skiff_kube::{Cluster, Error, Kind, Object};

#[derive(clap::Args, Debug, Clone)]
pub struct GetArgs {
    /// KIND[,KIND...] [NAME...] or KIND/NAME...
    #[arg(required = true)]
    args: Vec<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// List the objects of every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,
    /// Only objects whose labels match this selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Output format: wide, yaml, json, name, jsonpath=TEMPLATE.
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Show each object's labels as the last column.
    #[arg(long = "show-labels")]
    show_labels: bool,
    /// Print no header line.
    #[arg(long = "no-headers")]
    no_headers: bool,
    /// After listing, watch for changes (one kind only).
    #[arg(short = 'w', long)]
    watch: bool,
    /// Watch for changes without listing first.
    #[arg(long = "watch-only")]
    watch_only: bool,
}

pub fn get(c: &Cluster<'_>, a: GetArgs) -> Result {
    let format = Format::parse(a.output.as_deref()).map_err(usage)?;
    let ns = a.namespace.clone().unwrap_or_else(|| "default".into());
    let sel = selector(a.selector.as_deref())?;
    // The kinds asked for, each with the names asked for (empty: all).
    let mut asked: Vec<(Kind, Vec<String>)> = Vec::new();
    if a.args[0].contains('/') {
        for arg in &a.args {
            let Some((k, name)) = arg.split_once('/') else {
                return Err(Failure { code: 1, msg: "error: arguments in resource/name form must have a single resource and name".into() });
            };
            for kind in kinds(k)? {
                match asked.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, names)) => names.push(name.to_string()),
                    None => asked.push((kind, vec![name.to_string()])),
                }
            }
        }
    } else {
        let names = a.args[1..].to_vec();
        for kind in kinds(&a.args[0])? {
            asked.push((kind, names.clone()));
        }
    }
    let several_kinds = asked.len() > 1 || a.args[0] == "all";
    let single = asked.len() == 1 && asked[0].1.len() == 1;
    let mut found: Vec<(Kind, Vec<Object>)> = Vec::new();
    let mut failed = false;
    for (kind, names) in &asked {
        let mut objects = Vec::new();
        if names.is_empty() {
            let scope = (!a.all_namespaces).then_some(ns.as_str());
            for o in c.list(*kind, scope).map_err(failure)? {
                let labels = o.meta().labels.clone().unwrap_or_default();
                if sel.as_ref().is_none_or(|s| s.matches(&labels)) {
                    objects.push(o);
                }
            }
        } else {
            for n in names {
                match c.get(*kind, &ns, n).map_err(failure)? {
                    Some(o) => objects.push(o),
                    None => {
                        failed = true;
                        eprintln!(
                            "{}",
                            message(&Error::NotFound {
                                context: String::new(),
                                resource: kind.plural_resource(),
                                name: n.clone()
                            })
                        );
                    }
                }
            }
        }
        found.push((*kind, objects));
    }
    if a.watch || a.watch_only {
        return watch(c, &a, &format, &asked, &ns, sel.as_ref());
    }
    let total: usize = found.iter().map(|(_, o)| o.len()).sum();
    if total == 0 && !failed && !matches!(format, Format::Json | Format::Yaml) {
        if a.all_namespaces {
            eprintln!("No resources found");
        } else {
            eprintln!("No resources found in {ns} namespace.");
        }
        return Ok(());
    }
    print!("{}", present(&a, &format, &found, several_kinds, single)?);
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}

/// `-w`: the list (unless `--watch-only`), then each change as it comes,
/// until interrupted.
fn watch(
    c: &Cluster<'_>,
    a: &GetArgs,
    format: &Format,
    asked: &[(Kind, Vec<String>)],
    ns: &str,
    sel: Option<&skiff_kube::selector::Selector>,
) -> Result {
    let [(kind, names)] = asked else {
        return Err(usage("you may only specify a single resource type"));
    };
    let w = skiff_kube::Watch {
        kind: *kind,
        namespace: (!a.all_namespaces).then_some(ns),
        names,
        selector: sel,
    };
    let start = c.watch_start(&w).map_err(failure)?;
    let mut headers = !a.no_headers;
    if !a.watch_only && !start.0.is_empty() {
        // One table; documents one by one, as the events print them.
        if matches!(format, Format::Table { .. } | Format::Name) {
            let found = vec![(*kind, start.0.clone())];
            print!("{}", present(a, format, &found, false, false)?);
        } else {
            for o in &start.0 {
                let found = vec![(*kind, vec![o.clone()])];
                print!("{}", present(a, format, &found, false, true)?);
            }
        }
        headers = false;
    }
    let cancel = skiff_engine::notify::Cancel::new();
    let mut shown: Result = Ok(());
    c.watch(&w, start, &cancel, |_, o| {
        let found = vec![(*kind, vec![o.clone()])];
        let mut once = GetArgs {
            no_headers: !headers,
            ..a.clone()
        };
        once.watch = false;
        match present(&once, format, &found, false, true) {
            Ok(text) => {
                print!("{text}");
                headers = false;
                true
            }
            Err(e) => {
                shown = Err(e);
                false
            }
        }
    })
    .map_err(failure)?;
    shown
}

/// The objects found, as `format` prints them (`single`: one object asked
/// for by name, shown as itself rather than in a List).
fn present(
    a: &GetArgs,
    format: &Format,
    found: &[(Kind, Vec<Object>)],
    several_kinds: bool,
    single: bool,
) -> std::result::Result<String, Failure> {
    Ok(match format {
        Format::Table { wide } => {
            let mut text = String::new();
            for (kind, objects) in found {
                if objects.is_empty() {
                    continue;
                }
                let mut t =
                    printers::table(*kind, objects, *wide, a.all_namespaces && kind.namespaced());
                let name_col = t.headers.iter().position(|h| h == "NAME");
                if several_kinds {
                    if let Some(i) = name_col {
                        for r in t.rows.iter_mut() {
                            r[i] = format!("{}/{}", kind.resource(), r[i]);
                        }
                    }
                }
                if a.show_labels {
                    t.headers.push("LABELS".into());
                    for (r, o) in t.rows.iter_mut().zip(objects) {
                        let labels: Vec<String> = o
                            .meta()
                            .labels
                            .iter()
                            .flatten()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        r.push(if labels.is_empty() {
                            "<none>".into()
                        } else {
                            labels.join(",")
                        });
                    }
                }
                if a.no_headers {
                    t.headers.clear();
                }
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&t.render());
            }
            text
        }
        Format::Name => found
            .iter()
            .flat_map(|(k, os)| {
                os.iter()
                    .map(move |o| format!("{}/{}\n", k.resource(), o.name()))
            })
            .collect(),
        Format::Json | Format::Yaml | Format::JsonPath(_) => {
            let values: Vec<serde_json::Value> = found
                .iter()
                .flat_map(|(_, os)| os.iter().map(Object::to_value))
                .collect();
            let doc = if single && values.len() == 1 {
                values.into_iter().next().expect("one value")
            } else {
                output::list(values)
            };
            output::render(format, &doc).map_err(usage)?
        }
    })
}

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    /// KIND [NAME...] or KIND/NAME...
    #[arg(required = true)]
    args: Vec<String>,
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Only objects whose labels match this selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
}

/// `kube describe`: each object in prose with its events, a blank line
/// between two.
pub fn describe(c: &Cluster<'_>, a: DescribeArgs) -> Result {
    let ns = a.namespace.clone().unwrap_or_else(|| "default".into());
    let sel = selector(a.selector.as_deref())?;
    let mut targets: Vec<Object> = Vec::new();
    let mut failed = false;
    let mut named = |kind: Kind, name: &str, targets: &mut Vec<Object>| -> Result {
        match c.get(kind, &ns, name).map_err(failure)? {
            Some(o) => targets.push(o),
            None => {
                failed = true;
                let e = Error::NotFound {
                    context: String::new(),
                    resource: kind.plural_resource(),
                    name: name.to_string(),
                };
                eprintln!("{}", message(&e));
            }
        }
        Ok(())
    };
    if a.args[0].contains('/') {
        for arg in &a.args {
            let (k, name) = arg.split_once('/').ok_or_else(|| {
                usage("arguments in resource/name form must have a single resource and name")
            })?;
            for kind in kinds(k)? {
                named(kind, name, &mut targets)?;
            }
        }
    } else {
        for kind in kinds(&a.args[0])? {
            if a.args.len() > 1 {
                for name in &a.args[1..] {
                    named(kind, name, &mut targets)?;
                }
            } else {
                for o in c.list(kind, Some(&ns)).map_err(failure)? {
                    let labels = o.meta().labels.clone().unwrap_or_default();
                    if sel.as_ref().is_none_or(|s| s.matches(&labels)) {
                        targets.push(o);
                    }
                }
            }
        }
    }
    let texts: Vec<String> = targets
        .iter()
        .map(|o| skiff_kube::describe::describe(c, o).map_err(failure))
        .collect::<Result<_>>()?;
    print!("{}", texts.join("\n"));
    if texts.is_empty() && !failed {
        eprintln!("No resources found in {ns} namespace.");
    }
    if failed {
        return Err(Failure {
            code: 1,
            msg: String::new(),
        });
    }
    Ok(())
}
