//! skiff's Kubernetes layer: manifests decoded as the API server decodes
//! them (k8s-openapi types, strict fields, Kubernetes' defaults and
//! validation), kept as Kubernetes objects in the engine's transactional
//! store, and printed as kubectl prints them. The controllers that run
//! them (in `skiff serve`) build on this.

pub mod allocate;
pub mod cluster;
pub mod controllers;
pub mod defaults;
pub mod describe;
pub mod error;
pub mod generate;
pub mod kinds;
pub mod kubelet;
pub mod manifest;
mod merge;
pub mod metrics;
pub mod object;
pub mod pods;
pub mod printers;
pub mod quantity;
pub mod rollout;
pub mod selector;
pub mod validate;

pub use cluster::{Applied, Cascade, Cluster, DeleteOptions, EventType, Mode, Outcome, Watch};
pub use error::{Error, Result};
pub use kinds::Kind;
pub use object::Object;
