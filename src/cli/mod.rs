//! The command-line tool's library side (behind the default `cli` feature):
//! JSON Lines parsing with exact numbers, `eval`, `vectors` and `check`.
//! Kept in the library so that tests and fuzz targets can drive the parsers.

pub mod args;
pub mod check;
pub mod cos_vectors;
pub mod eval;
pub mod exhaustive;
/// `eval` loss lines on cosines for every head of the margin family.
pub mod family;
/// The JSON field reader and writers `eval`, `vectors` and `check` share (crate-internal).
pub(crate) mod json;
pub mod npy;
pub mod op;
pub mod tensors;
pub mod typed;
pub mod vectors;
