//! The conformance toolkit: judge a fast implementation against the oracle.

pub mod kernel;

pub use kernel::{FloatFormat, ScalarFns, ScalarKernel};
