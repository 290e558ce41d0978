//! High-precision finite differences (in progress).
