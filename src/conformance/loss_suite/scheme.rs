//! Mixed-precision schemes: how a loss kernel's arithmetic relates to the format of its
//! inputs, as named in loss vectors (`"scheme"`) and keyed in the [`LossPolicy`](super::LossPolicy).

use crate::arith::Format;
use crate::names::names;

/// The precision scheme of a loss kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Scheme {
    /// Every operation in the inputs' format (`dtype`); results in that format.
    #[default]
    Native,
    /// Mixed precision as PyTorch's autocast runs a margin head (insightface's partial
    /// FC, opensphere): `x` and `W` are values of a 16-bit `dtype` (`f16` or `bf16`);
    /// dot products and norms accumulate in float32; the cosine is rounded to `dtype`
    /// (the matmul's output) and clamped to [−1, 1] after that rounding; the margin ψ,
    /// the logits, the softmax, the loss and the gradients are float32. Results are
    /// float32; errors are measured in ulps of `dtype` (one `dtype` rounding of the
    /// cosine is the scheme's error floor).
    Autocast,
}

impl Scheme {
    /// `"native"` or `"autocast"`.
    pub const fn name(self) -> &'static str {
        match self {
            Scheme::Native => "native",
            Scheme::Autocast => "autocast",
        }
    }

    /// The format results are written in: `dtype` itself, or float32 under autocast.
    pub const fn result_format(self, dtype: Format) -> Format {
        match self {
            Scheme::Native => dtype,
            Scheme::Autocast => Format::F32,
        }
    }

    /// `Ok` when the scheme takes inputs in `dtype` (autocast: `f16` or `bf16`), else
    /// the reason.
    pub fn check_dtype(self, dtype: Format) -> Result<(), String> {
        match (self, dtype) {
            (Scheme::Autocast, Format::F32 | Format::F64) => Err(format!(
                "scheme \"autocast\" takes 16-bit inputs (dtype \"f16\" or \"bf16\"), not \"{}\"",
                dtype.name()
            )),
            _ => Ok(()),
        }
    }
}

// The one spelling, shared by the vectors' `"scheme"` field and `vectors --scheme`.
names!(Scheme, "scheme", [Scheme::Native, Scheme::Autocast] => Scheme::name);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_autocast_takes_16_bit_inputs() {
        crate::names::tests::round_trip::<Scheme>();
        assert!(Scheme::Autocast.check_dtype(Format::F16).is_ok());
        assert!(Scheme::Autocast.check_dtype(Format::F32).is_err());
        assert_eq!(Scheme::Autocast.result_format(Format::Bf16), Format::F32);
        assert_eq!(Scheme::Native.result_format(Format::F16), Format::F16);
    }
}
