//! The ops of the JSON Lines interfaces: one name table for `eval`, `vectors` and `check`.

use crate::conformance::ScalarOp;
use crate::names::{Name, names};

/// An op of `eval` (the `"op"` field); [`Op::VECTORS`] are those `vectors` writes and
/// `check` judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `T_m(c) = cos(mθ)`.
    CosM,
    /// `ψ`.
    Psi,
    /// `dψ/dc`.
    DpsiDcos,
    /// `dψ/dθ`.
    DpsiDtheta,
    /// The batch loss (and its gradients).
    Loss,
    /// The annealing schedule λ.
    Lambda,
    /// The angular margin `(m−1)/(m+1)·Θ`.
    AngularMargin,
    /// `m_min` of Properties 2 and 3.
    MMin,
}

// The scalar ops keep the conformance suite's names (one spelling).
names!(Op, "op", {
    Op::CosM => ScalarOp::CosM.name(),
    Op::Psi => ScalarOp::Psi.name(),
    Op::DpsiDcos => ScalarOp::DpsiDcos.name(),
    Op::DpsiDtheta => "dpsi_dtheta",
    Op::Loss => "loss",
    Op::Lambda => "lambda",
    Op::AngularMargin => "angular_margin",
    Op::MMin => "m_min",
});

impl Op {
    /// The ops `vectors` generates and `check` judges, in this order.
    pub const VECTORS: [Op; 4] = [Op::CosM, Op::Psi, Op::DpsiDcos, Op::Loss];

    /// The conformance suite's scalar op, for `cos_m`, `psi` and `dpsi_dcos`.
    pub const fn scalar(self) -> Option<ScalarOp> {
        match self {
            Op::CosM => Some(ScalarOp::CosM),
            Op::Psi => Some(ScalarOp::Psi),
            Op::DpsiDcos => Some(ScalarOp::DpsiDcos),
            _ => None,
        }
    }

    /// `Ok(self)` for an op of [`Op::VECTORS`], otherwise an error that lists them.
    pub fn vectors_op(self) -> Result<Op, String> {
        if Op::VECTORS.contains(&self) {
            Ok(self)
        } else {
            Err(format!(
                "op \"{}\" has no vectors (vectors ops: {})",
                self.name(),
                Op::vectors_names()
            ))
        }
    }

    /// The op of a vectors line: one of [`Op::VECTORS`], or an error that lists them.
    pub fn parse_vectors_op(text: &str) -> Result<Op, String> {
        Op::parse(text)
            .map_err(|_| {
                format!(
                    "unknown op \"{text}\" (vectors ops: {})",
                    Op::vectors_names()
                )
            })?
            .vectors_op()
    }

    fn vectors_names() -> String {
        Op::VECTORS.map(Op::name).join(", ")
    }
}

impl From<ScalarOp> for Op {
    fn from(op: ScalarOp) -> Op {
        match op {
            ScalarOp::CosM => Op::CosM,
            ScalarOp::Psi => Op::Psi,
            ScalarOp::DpsiDcos => Op::DpsiDcos,
        }
    }
}

/// The output precision of a line without `prec`, in bits.
pub const DEFAULT_PREC: u32 = 256;

/// `m` as an integer from `min` to [`MAX_M`](crate::multiangle::MAX_M), or the error that says so.
pub(crate) fn integer_m_value(m: &rug::Rational, min: u32) -> Result<u32, String> {
    match crate::arith::exact::integer_u32(m) {
        Some(v) if v >= min && v <= crate::multiangle::MAX_M => Ok(v),
        _ => Err(format!(
            "m = {} is out of range: expected an integer from {min} to {} for this op",
            crate::describe_rational(m),
            crate::multiangle::MAX_M
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_ops_keep_the_suite_names() {
        for op in ScalarOp::ALL {
            assert_eq!(Op::from(op).name(), op.name());
            assert_eq!(Op::from(op).scalar(), Some(op));
        }
        for &op in Op::ALL {
            assert_eq!(op.scalar().map(Op::from).unwrap_or(op), op);
        }
    }

    #[test]
    fn only_vectors_ops_have_vectors() {
        assert_eq!(Op::Loss.vectors_op(), Ok(Op::Loss));
        let e = Op::DpsiDtheta.vectors_op().unwrap_err();
        assert!(e.contains("cos_m, psi, dpsi_dcos, loss"), "{e}");
        assert_eq!(Op::parse_vectors_op("psi"), Ok(Op::Psi));
        let e = Op::parse_vectors_op("psi_typo").unwrap_err();
        assert_eq!(
            e,
            "unknown op \"psi_typo\" (vectors ops: cos_m, psi, dpsi_dcos, loss)"
        );
    }
}
