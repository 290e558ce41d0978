//! The crate's own fast f32/f64 kernels (in progress).
