//! Text -> [`Dockerfile`]: directives, comments, continuations, heredocs,
//! instructions and their flags.
//!
//! Two passes, as Docker's parser: [`lines`] turns the text into raw nodes
//! (one per instruction, continuations joined, heredoc bodies read), then
//! [`instr`] turns each node into an instruction, in order.

mod flags;
mod heredoc;
mod instr;
mod lines;
mod mount;
mod values;
mod words;

use super::*;
pub use mount::parse_mount;

/// Parse a whole Dockerfile.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let read = lines::read(src, '\\')?;
    let mut df = Dockerfile {
        escape: read.escape,
        syntax: read.syntax,
        meta_args: Vec::new(),
        stages: Vec::new(),
    };
    for node in &read.nodes {
        let location = Location {
            line: node.start,
            end_line: node.end,
        };
        let at = |message: String| ParseError {
            line: node.start,
            message,
        };
        match instr::parse_node(node).map_err(at)? {
            instr::Parsed::From {
                name,
                base,
                platform,
            } => {
                let index = df.stages.len();
                df.stages.push(Stage {
                    index,
                    name,
                    base,
                    platform,
                    location,
                    original: node.original.trim().to_string(),
                    instructions: Vec::new(),
                });
            }
            instr::Parsed::Kind(Kind::Arg(decls)) if df.stages.is_empty() => {
                df.meta_args.push((location, decls));
            }
            instr::Parsed::Kind(kind) => match df.stages.last_mut() {
                Some(stage) => stage.instructions.push(Instruction {
                    location,
                    original: node.original.clone(),
                    kind,
                }),
                None => return Err(at("no build stage in current context".into())),
            },
        }
    }
    if df.stages.is_empty() {
        return Err(ParseError {
            line: 0,
            message: "dockerfile contains no stages to build".into(),
        });
    }
    Ok(df)
}

/// Parse one ONBUILD trigger as stored in an image config (`RUN echo hi`,
/// heredoc bodies included: see [`Instruction::trigger_text`]).
pub fn parse_trigger(text: &str, escape: char) -> Result<Instruction, ParseError> {
    let read = lines::read(text, escape)?;
    let [node] = read.nodes.as_slice() else {
        return Err(ParseError {
            line: 0,
            message: "onbuild trigger should be a single expression".into(),
        });
    };
    let at = |message: String| ParseError {
        line: node.start,
        message,
    };
    instr::check_trigger(&node.cmd).map_err(at)?;
    match instr::parse_node(node).map_err(at)? {
        instr::Parsed::Kind(kind) => Ok(Instruction {
            location: Location {
                line: node.start,
                end_line: node.end,
            },
            original: node.original.clone(),
            kind,
        }),
        instr::Parsed::From { .. } => Err(at("FROM isn't allowed as an ONBUILD trigger".into())),
    }
}

#[cfg(test)]
pub(super) mod tests_support {
    pub(crate) use super::values::go_duration;
}
