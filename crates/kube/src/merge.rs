//! `kubectl apply`'s three-way merge, on JSON: what the new configuration
//! sets replaces the live value, what the last applied configuration set
//! and the new one drops is removed, and everything else in the live object
//! (what the server or a controller set: a cluster IP, a node port, the
//! defaults, the status) stays. Maps merge key by key. Lists whose items
//! Kubernetes merges by a key (containers and volumes by name, ports by
//! port, mounts by path: the strategic merge keys of the kinds skiff
//! serves) merge item by item; other lists are replaced whole.

use serde_json::Value;

pub fn three_way(live: &Value, last: &Value, new: &Value) -> Value {
    merge(live, last, new, "")
}

/// The key list `field`'s items merge by, if it has one.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().all(|i| i.get(k).is_some());
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "ports" if has("containerPort") => "containerPort",
        "ports" if has("port") => "port",
        _ => return None,
    };
    has(key).then_some(key)
}

fn merge(live: &Value, last: &Value, new: &Value, field: &str) -> Value {
    match (live, new) {
        (Value::Object(l), Value::Object(n)) => {
            let mut out = l.clone();
            for (k, nv) in n {
                let lv = l.get(k).unwrap_or(&Value::Null);
                let pv = last.get(k).unwrap_or(&Value::Null);
                out.insert(k.clone(), merge(lv, pv, nv, k));
            }
            if let Value::Object(p) = last {
                for k in p.keys() {
                    if !n.contains_key(k) {
                        out.remove(k);
                    }
                }
            }
            out.into()
        }
        (Value::Array(l), Value::Array(n)) => {
            let Some(key) = merge_key(field, n).filter(|k| l.iter().all(|i| i.get(*k).is_some()))
            else {
                return new.clone();
            };
            let empty = Vec::new();
            let p = last.as_array().unwrap_or(&empty);
            let find = |list: &[Value], want: &Value| {
                list.iter().find(|i| i.get(key) == Some(want)).cloned()
            };
            let mut out: Vec<Value> = n
                .iter()
                .map(|ni| {
                    let k = &ni[key];
                    let li = find(l, k).unwrap_or(Value::Null);
                    let pi = find(p, k).unwrap_or(Value::Null);
                    merge(&li, &pi, ni, "")
                })
                .collect();
            // Live items the new list lacks stay unless the last applied
            // configuration had them (then the user removed them).
            for li in l {
                let k = &li[key];
                if find(n, k).is_none() && find(p, k).is_none() {
                    out.push(li.clone());
                }
            }
            Value::Array(out)
        }
        _ => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::three_way;
    use serde_json::json;

    #[test]
    fn sets_removes_and_keeps() {
        let live =
            json!({"spec": {"replicas": 3, "clusterIP": "10.96.0.5", "x": 1}, "status": {"a": 1}});
        let last = json!({"spec": {"replicas": 2, "x": 1}});
        let new = json!({"spec": {"replicas": 4}});
        assert_eq!(
            three_way(&live, &last, &new),
            json!({"spec": {"replicas": 4, "clusterIP": "10.96.0.5"}, "status": {"a": 1}})
        );
    }

    #[test]
    fn keyed_lists_merge_by_item() {
        let live = json!({"ports": [{"port": 80, "nodePort": 30000, "protocol": "TCP"},
                                    {"port": 81, "nodePort": 30001}]});
        let last = json!({"ports": [{"port": 80}, {"port": 81}]});
        let new = json!({"ports": [{"port": 80, "name": "http"}]});
        assert_eq!(
            three_way(&live, &last, &new),
            json!({"ports": [{"port": 80, "nodePort": 30000, "protocol": "TCP", "name": "http"}]})
        );
        // An unkeyed list is replaced.
        let v = three_way(
            &json!({"args": ["a", "b"]}),
            &json!({}),
            &json!({"args": ["c"]}),
        );
        assert_eq!(v, json!({"args": ["c"]}));
    }
}
