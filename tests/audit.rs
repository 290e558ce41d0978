//! The accuracy audit of the published formulas, as a reviewed snapshot: the table
//! `asoftmax-spec audit` prints (the same function produces both). Reviewed by hand:
//! the fast kernels are within 0.5 ulp everywhere; the textbook recurrence and the
//! binomial/sign-trick/hard-coded forms pass the default policy for ψ and T_m; the
//! acos→cos clamps fail next to c = ±1, the x⁹ Taylor cosine fails away from θ = 0,
//! and the acos-based k (binomial, hard-coded T) puts k = m at c = −1, flipping
//! the sign of dψ/dc there. The zoo calls the system libm, so the numbers are those
//! of this machine image.

use asoftmax_spec::audit::{AuditConfig, run, table};

#[test]
fn zoo_accuracy_table() {
    let reports = run(&AuditConfig::default(), &mut |_, _, _| {});
    insta::assert_snapshot!(table(&reports));
}
