//! The constants in the layout the kernels read, derived at compile time from the
//! generated [`tables`](super::tables), where each constant is stored once: the gap
//! thresholds are thresholds, and the squared roots of `T_m` and of `U_{m−1}` are
//! alternate entries of one row `cos²(kπ/(2m))`, `k = 1..m−1`.
//!
//! Row `m` of each table belongs to the margin `m` (`0..=16`); unused entries are
//! padding (`-inf` for thresholds, `0` for roots).

use super::tables::{ROOTS_SQ, THRESHOLDS};

/// The threshold inside the `n`-th gap of the positive roots of `T_m`: entry `n` is
/// `+inf` for `n = 0`, `cos(nπ/m)` for `1 ≤ n ≤ ⌊(m−1)/2⌋`, and `-inf` for `n = m/2`
/// (`m` even: the gap `(0, r_{m/2})` holds no positive threshold); padded with `-inf`.
pub(super) static GAP_THRESHOLD: [[f64; 9]; 17] = gap_thresholds();

/// `cos²((2j−1)π/(2m))`, `j = 1..⌊m/2⌋` (the odd `k` of [`ROOTS_SQ`]), as triple-doubles
/// `[R0, R1, R2]`.
pub(super) static T_ROOTS_SQ: [[[f64; 3]; 8]; 17] = every_other_root(1);

/// `cos²(jπ/m)`, `j = 1..⌊(m−1)/2⌋` (the even `k` of [`ROOTS_SQ`]), as triple-doubles.
pub(super) static U_ROOTS_SQ: [[[f64; 3]; 8]; 17] = every_other_root(2);

/// [`GAP_THRESHOLD`] from [`THRESHOLDS`] (`cos(nπ/m)` is `THRESHOLDS[m][n − 1]`).
const fn gap_thresholds() -> [[f64; 9]; 17] {
    let mut gap = [[f64::NEG_INFINITY; 9]; 17];
    let mut m = 0;
    while m < 17 {
        gap[m][0] = f64::INFINITY;
        let mut n = 1;
        while n <= m.saturating_sub(1) / 2 {
            gap[m][n] = THRESHOLDS[m][n - 1];
            n += 1;
        }
        m += 1;
    }
    gap
}

/// Row `m`: the entries `k = first_k, first_k + 2, …` of `ROOTS_SQ[m]` (`k` counted
/// from 1), padded with zeros.
const fn every_other_root(first_k: usize) -> [[[f64; 3]; 8]; 17] {
    let mut out = [[[0.0; 3]; 8]; 17];
    let mut m = 0;
    while m < 17 {
        let row = ROOTS_SQ[m];
        let mut k = first_k;
        while k <= row.len() {
            out[m][(k - 1) / 2] = row[k - 1];
            k += 2;
        }
        m += 1;
    }
    out
}
