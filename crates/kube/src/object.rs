//! An object of one of the kinds skiff keeps, as its Kubernetes type
//! (k8s-openapi), decoded strictly: a field the type does not have is an
//! error naming its path, as the API server's strict field validation does.

use crate::kinds::Kind;
use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core,
    discovery::v1 as discovery,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Why a document could not be decoded as its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strictness {
    /// Fields the type does not have, by path (`spec.template.spec.containers[0].imagee`).
    Unknown(Vec<String>),
    /// A value of the wrong type or form, at a path.
    Invalid { path: String, msg: String },
}

macro_rules! objects {
    ($($kind:ident => $ty:ty),* $(,)?) => {
        /// One object, typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Object {
            $($kind(Box<$ty>),)*
        }

        impl Object {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Object::$kind(_) => Kind::$kind,)*
                }
            }

            pub fn meta(&self) -> &ObjectMeta {
                match self {
                    $(Object::$kind(o) => &o.metadata,)*
                }
            }

            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$kind(o) => &mut o.metadata,)*
                }
            }

            /// The object as the API returns it (with `apiVersion` and `kind`).
            pub fn to_value(&self) -> Value {
                let v = match self {
                    $(Object::$kind(o) => serde_json::to_value(o),)*
                };
                v.expect("a Kubernetes object serializes")
            }

            /// Decode `value` as `kind`, strictly.
            pub fn decode(kind: Kind, value: &Value) -> Result<Object, Strictness> {
                let mut value = std::borrow::Cow::Borrowed(value);
                loop {
                    let r = match kind {
                        $(Kind::$kind => strict::<$ty>(&value).map(|o| Object::$kind(Box::new(o))),)*
                    };
                    match r {
                        Err(Strictness::Invalid { path, msg }) if yaml11_octal(value.to_mut(), &path, &msg) => continue,
                        r => return r,
                    }
                }
            }
        }
    };
}

objects! {
    Namespace => core::Namespace,
    Node => core::Node,
    Pod => core::Pod,
    Service => core::Service,
    Endpoints => core::Endpoints,
    ConfigMap => core::ConfigMap,
    Secret => core::Secret,
    PersistentVolumeClaim => core::PersistentVolumeClaim,
    Event => core::Event,
    Deployment => apps::Deployment,
    ReplicaSet => apps::ReplicaSet,
    Job => batch::Job,
    HorizontalPodAutoscaler => autoscaling::HorizontalPodAutoscaler,
    EndpointSlice => discovery::EndpointSlice,
}

impl Object {
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or("")
    }
}

/// Kubernetes reads YAML 1.1, where `0400` is an octal number (file modes
/// are written so); YAML 1.2 makes it a string. Where a number was expected
/// and such a string found, it becomes the number (true when it changed).
fn yaml11_octal(value: &mut Value, path: &str, msg: &str) -> bool {
    if !msg.starts_with("invalid type: string") || !msg.contains("expected i") {
        return false;
    }
    let mut pointer = String::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        pointer.push('/');
        pointer.push_str(name);
        for idx in rest.split('[') {
            let idx = idx.trim_end_matches(']');
            if !idx.is_empty() {
                pointer.push('/');
                pointer.push_str(idx);
            }
        }
    }
    let Some(v) = value.pointer_mut(&pointer) else {
        return false;
    };
    let Some(text) = v.as_str() else { return false };
    let octal =
        text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match (octal, i64::from_str_radix(text, 8)) {
        (true, Ok(n)) => {
            *v = Value::from(n);
            true
        }
        _ => false,
    }
}

/// Decode `value` as `T`, refusing fields `T` lacks.
fn strict<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, Strictness> {
    let mut unknown = Vec::new();
    let mut note = |p: serde_ignored::Path<'_>| unknown.push(path_text(&p));
    let de = serde_ignored::Deserializer::new(value, &mut note);
    let decoded: Result<T, _> = serde_path_to_error::deserialize(de);
    match decoded {
        Err(e) => Err(Strictness::Invalid {
            path: e.path().to_string(),
            msg: e.inner().to_string(),
        }),
        Ok(_) if !unknown.is_empty() => Err(Strictness::Unknown(unknown)),
        Ok(v) => Ok(v),
    }
}

/// A path as the API server words it: `spec.containers[0].image`.
fn path_text(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_text(parent)),
        Path::Map { parent, key } => {
            let up = path_text(parent);
            if up.is_empty() {
                key.clone()
            } else {
                format!("{up}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_text(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_by_path() {
        let v = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replica": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "imagee": "x"}]}}}
        });
        assert_eq!(
            Object::decode(Kind::Deployment, &v),
            Err(Strictness::Unknown(vec![
                "spec.replica".into(),
                "spec.template.spec.containers[0].imagee".into()
            ]))
        );
    }

    #[test]
    fn wrong_types_are_named_by_path() {
        let v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": "80"}]}]}});
        match Object::decode(Kind::Pod, &v) {
            Err(Strictness::Invalid { path, .. }) => {
                assert_eq!(path, "spec.containers[0].ports[0].containerPort")
            }
            other => panic!("{other:?}"),
        }
        let ok = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"k": "v"}});
        let modes = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [], "volumes": [{"name": "s", "secret": {"defaultMode": "0400"}}]}});
        match Object::decode(Kind::Pod, &modes).unwrap() {
            Object::Pod(p) => assert_eq!(
                p.spec.unwrap().volumes.unwrap()[0]
                    .secret
                    .as_ref()
                    .unwrap()
                    .default_mode,
                Some(0o400)
            ),
            _ => unreachable!(),
        }
        let o = Object::decode(Kind::ConfigMap, &ok).unwrap();
        assert_eq!(o.name(), "c");
        assert_eq!(o.to_value(), ok);
    }
}
