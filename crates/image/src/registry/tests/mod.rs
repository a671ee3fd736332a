//! Tests of the registry client that need servers: a real registry
//! (Debian's `docker-registry`, see `distribution`) and fake ones on
//! 127.0.0.1 (see `support`). No other address is ever contacted.

pub(crate) mod distribution;
mod fake;
mod real;
pub(crate) mod support;
mod tls;
