//! skiff's images: references with Docker's normalization, a content-addressed
//! store of verified blobs, and layers unpacked into overlayfs snapshots.

pub mod archive;
pub mod auth;
pub mod build_cache;
pub mod built;
pub mod catalog;
pub mod digest;
pub mod import;
pub mod init_layer;
pub mod layer;
pub mod manifest;
pub mod overlay;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod service;
pub mod snapshot;
pub mod sqlite;
pub mod store;
