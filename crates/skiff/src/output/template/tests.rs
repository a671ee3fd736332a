//! The template language against what Go prints for the same templates.

use super::*;
use serde_json::json;

fn r(t: &str, v: &Value) -> String {
    render(t, v).unwrap()
}

#[test]
fn fields_json_index_and_go_printing() {
    let v = json!({
        "Id": "abc", "State": {"Pid": 42, "Running": true, "Status": "running"},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"x": "y", "com.ex": "z"}, "Cmd": null},
        "Size": 1.5,
    });
    assert_eq!(
        r("{{.Id}} {{.State.Pid}} {{.State.Running}}", &v),
        "abc 42 true"
    );
    assert_eq!(r("{{.Config.Env}}", &v), "[A=1 B=2]");
    assert_eq!(r("{{.Config.Labels}}", &v), "map[com.ex:z x:y]");
    assert_eq!(r("{{json .Config.Env}}", &v), r#"["A=1","B=2"]"#);
    assert_eq!(r("{{.Config.Env | json}}", &v), r#"["A=1","B=2"]"#);
    assert_eq!(r(r#"{{index .Config.Labels "com.ex"}}"#, &v), "z");
    assert_eq!(r("{{index .Config.Env 1}}", &v), "B=2");
    assert_eq!(r(r#"{{join .Config.Env ","}}"#, &v), "A=1,B=2");
    assert_eq!(r("{{len .Config.Env}}", &v), "2");
    assert_eq!(r("{{.Config.Cmd}}", &v), "<nil>");
    assert_eq!(r("{{json .Config.Cmd}}", &v), "null");
    assert_eq!(r("{{.Nope}}", &v), "<no value>");
    assert_eq!(r("{{.Size}}", &v), "1.5");
    assert_eq!(r("{{upper .State.Status}}", &v), "RUNNING");
    assert_eq!(r(r#"{{printf "%s:%d" .Id .State.Pid}}"#, &v), "abc:42");
    assert_eq!(r("{{json .}}", &json!({"a": 1})), r#"{"a":1}"#);
    assert_eq!(r("{{(index .Config.Env 0)}}", &v), "A=1");
}

#[test]
fn control_flow_and_trim() {
    let v =
        json!({"Nets": {"b": {"IP": "10.0.0.2"}, "a": {"IP": "10.0.0.1"}}, "E": [], "On": false});
    assert_eq!(
        r("{{range .Nets}}{{.IP}} {{end}}", &v),
        "10.0.0.1 10.0.0.2 "
    );
    assert_eq!(r("{{range .E}}x{{else}}none{{end}}", &v), "none");
    assert_eq!(r("{{if .On}}on{{else}}off{{end}}", &v), "off");
    assert_eq!(r(r#"{{if eq .Nets.a.IP "10.0.0.1"}}yes{{end}}"#, &v), "yes");
    assert_eq!(r("{{with .Nets.a}}{{.IP}}{{end}}", &v), "10.0.0.1");
    assert_eq!(r("a  {{- .On -}}  b", &v), "afalseb");
    assert_eq!(r("{{if not .On}}n{{end}}", &v), "n");
}

#[test]
fn variables_and_go_typed_nulls() {
    let v = json!({"Name": "/web", "Labels": {"b": "2", "a": "1"}, "List": ["x", "y"],
                   "CapAdd": null, "Cmd": null});
    assert_eq!(
        r("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &v),
        "a=1;b=2;"
    );
    assert_eq!(
        r("{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}", &v),
        "0:x 1:y "
    );
    assert_eq!(r("{{range $e := .List}}{{$e}}{{end}}", &v), "xy");
    assert_eq!(r("{{$n := .Name}}[{{$n}}] {{$.Name}}", &v), "[/web] /web");
    let o = Options {
        missing_key_error: true,
        null_as: Some(|k| match k {
            "CapAdd" => Some("[]"),
            "StopSignal" => Some(""),
            _ => None,
        }),
    };
    assert_eq!(
        render_with("{{.CapAdd}}|{{json .CapAdd}}|{{.Cmd}}", &v, &o).unwrap(),
        "[]|null|<nil>"
    );
    assert_eq!(render_with("[{{.StopSignal}}]", &v, &o).unwrap(), "[]");
    let e = render_with("{{.Nope}}", &v, &o).unwrap_err();
    assert!(e.contains("map has no entry for key \"Nope\""), "{e}");
}

#[test]
fn errors_name_the_problem() {
    let v = json!({"A": "x"});
    assert!(render("{{.A", &v).unwrap_err().contains("unclosed"));
    assert!(render("{{nosuch .A}}", &v)
        .unwrap_err()
        .contains("not defined"));
    assert!(render("{{if .A}}x", &v).unwrap_err().contains("end"));
    assert!(render("{{.A.B}}", &v)
        .unwrap_err()
        .contains("can't evaluate field B"));
    assert!(render("{{end}}", &v).unwrap_err().contains("unexpected"));
}
