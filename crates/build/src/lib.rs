//! `skiff build`: a Dockerfile becomes a graph of steps, each step a layer or
//! a change of the image's configuration, with a content-addressed cache.
//!
//! - [`dockerfile`]: the Dockerfile language (directives, continuations,
//!   heredocs, instructions and their flags) parsed into stages;
//! - [`dockerfile::shell`]: Docker's word processing (quotes, `$v`,
//!   `${v:-w}`, ...), applied where Docker applies it;
//! - [`ignore`]: `.dockerignore` patterns.

pub mod archive;
pub mod builder;
pub mod cache_io;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod host;
pub mod ignore;
pub mod progress;
pub mod statcache;
pub mod state;

pub use builder::{build, BuildOptions, Built};
pub use error::BuildError;
pub use host::{Host, HostError, Network, RunRequest};
