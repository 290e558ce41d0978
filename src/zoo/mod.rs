//! The published-formula zoo (in progress).
