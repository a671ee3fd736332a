//! What commands print: Docker's tables, sizes, ages and `--format` rows
//! (`format`), and Go's text/template for `--format`/`-f` (`template`).

pub mod format;
pub mod template;
