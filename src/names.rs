//! One name table per enum: the spelling of every choice the JSON Lines interfaces
//! and the command line share (loss variant, backward, float format, `m_min` setting,
//! a head, its fallback and gradient semantics).
//!
//! Each enum implements [`Name`]: [`Name::name`] is its canonical spelling — the one
//! written in JSON and shown in help texts — and [`Name::parse`] reads it back, with an
//! error that lists the accepted names. On the command line [`Name::parse_arg`] also
//! accepts `-` for `_` (`a-softmax` for `a_softmax`). The table of each enum is one
//! list in one `names!` invocation (whose spellings may come from the type's own
//! `name`, as for [`Format`] and [`Setting`]), so the writer and the readers cannot
//! drift apart, and adding a variant without a name does not compile.
//!
//! ```
//! use asoftmax_spec::loss::Variant;
//! use asoftmax_spec::names::Name;
//! assert_eq!(Variant::LSoftmax.name(), "l_softmax");
//! assert_eq!(Variant::parse("a_softmax"), Ok(Variant::ASoftmax));
//! assert_eq!(Variant::parse_arg("a-softmax"), Ok(Variant::ASoftmax));
//! assert_eq!(
//!     Variant::parse("a-softmax").unwrap_err(),
//!     "unknown variant \"a-softmax\" (expected \"a_softmax\" or \"l_softmax\")"
//! );
//! ```

use crate::arith::Format;
use crate::head::family::RVersion;
use crate::head::sphereface2::Margin as S2Margin;
use crate::head::{Fallback, Kind, Semantics};
use crate::loss::{Backward, Variant};
use crate::loss_filter::Tier;
use crate::margin::Setting;

/// A closed set of values with one canonical name each.
pub trait Name: Copy + PartialEq + Sized + 'static {
    /// What the values are (`"variant"`, `"op"`, …), for error messages.
    const WHAT: &'static str;
    /// Every value, in table order (the order error messages and help texts list them in).
    const ALL: &'static [Self];

    /// The canonical name, as written in JSON and on the command line.
    fn name(self) -> &'static str;

    /// The value named exactly `text` (canonical spelling only: JSON readers use this).
    fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == text)
            .ok_or_else(|| unknown::<Self>(text))
    }

    /// [`parse`](Name::parse), also accepting `-` in place of `_` (`a-softmax`,
    /// `detached-margin`): the command-line alias.
    fn parse_arg(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == text || v.name().replace('_', "-") == text)
            .ok_or_else(|| unknown::<Self>(text))
    }

    /// The accepted names for messages: `"a" or "b"` for two, `one of: a, b, c` otherwise.
    fn expected() -> String {
        match Self::ALL {
            [a, b] => format!("\"{}\" or \"{}\"", a.name(), b.name()),
            all => format!(
                "one of: {}",
                all.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// `unknown <what> "<text>" (expected <names>)`.
fn unknown<T: Name>(text: &str) -> String {
    format!(
        "unknown {} \"{text}\" (expected {})",
        T::WHAT,
        T::expected()
    )
}

/// Implements [`Name`] from one table: `names!(Type, "what", { Type::A => "a", … })`.
/// A name may be any constant expression, so a table can take a spelling from the type
/// that owns it (`Op::CosM => ScalarOp::CosM.name()`). The `match` it writes is
/// exhaustive, so every variant must be listed.
///
/// `names!(Type, "what", [Type::A, …] => Type::name)` takes every name from the type's
/// own `const fn name` (the one spelling, next to the type in a lower layer); the list
/// only fixes the order, and is checked to be complete the same way.
macro_rules! names {
    ($ty:ty, $what:literal, { $($value:path => $name:expr),+ $(,)? }) => {
        impl $crate::names::Name for $ty {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$($value),+];
            fn name(self) -> &'static str {
                match self {
                    $($value => $name),+
                }
            }
        }
    };
    ($ty:ty, $what:literal, [ $($value:path),+ $(,)? ] => $source:path) => {
        impl $crate::names::Name for $ty {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$($value),+];
            fn name(self) -> &'static str {
                match self {
                    $($value)|+ => $source(self),
                }
            }
        }
    };
}
// Used by `conformance::loss_suite` (the scheme table) and `cli::op`.
pub(crate) use names;

names!(Variant, "variant", {
    Variant::ASoftmax => "a_softmax",
    Variant::LSoftmax => "l_softmax",
});

names!(Backward, "backward", {
    Backward::Full => "full",
    Backward::DetachedMargin => "detached_margin",
});

names!(Fallback, "fallback", {
    Fallback::None => "none",
    Fallback::ClampPi => "clamp_pi",
    Fallback::Linear => "linear",
    Fallback::Easy => "easy",
});

names!(Kind, "head", {
    Kind::Combined => "combined",
    Kind::ArcFace => "arcface",
    Kind::CosFace => "cosface",
    Kind::SphereFace => "sphereface",
    Kind::SphereFaceR => "sphereface_r",
    Kind::SphereFace2 => "sphereface2",
    Kind::CurricularFace => "curricularface",
    Kind::AdaFace => "adaface",
    Kind::MagFace => "magface",
});

names!(S2Margin, "margin type", {
    S2Margin::C => "c",
    S2Margin::A => "a",
    S2Margin::M => "m",
});

names!(RVersion, "version", {
    RVersion::V1 => "v1",
    RVersion::V2 => "v2",
});

names!(Tier, "tier", {
    Tier::Filter => "filter",
    Tier::Mpfr => "mpfr",
});

// `Format`, `Setting` and `Semantics` spell their names themselves, next to the type (their
// inherent `name` is public API of `arith`, `margin` and `head`, below this module): one
// spelling each.
names!(Semantics, "semantics", [
    Semantics::Analytic,
    Semantics::StraightThrough,
    Semantics::DifferentiableAcos,
] => Semantics::name);

names!(Format, "dtype", [Format::F32, Format::F64, Format::F16, Format::Bf16] => Format::name);

names!(Setting, "setting", [Setting::Binary, Setting::Multiclass] => Setting::name);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn round_trip<T: Name + std::fmt::Debug>() {
        for &v in T::ALL {
            assert_eq!(T::parse(v.name()), Ok(v));
            assert_eq!(T::parse_arg(v.name()), Ok(v));
            assert_eq!(T::parse_arg(&v.name().replace('_', "-")), Ok(v));
            assert!(!v.name().contains('-'), "canonical names use _");
        }
        let err = T::parse("no such name").unwrap_err();
        for &v in T::ALL {
            assert!(err.contains(v.name()), "{err}");
        }
    }

    #[test]
    fn every_table_round_trips() {
        round_trip::<Variant>();
        round_trip::<Backward>();
        round_trip::<Format>();
        round_trip::<Setting>();
        round_trip::<Fallback>();
        round_trip::<Semantics>();
        round_trip::<Kind>();
        round_trip::<RVersion>();
        round_trip::<S2Margin>();
        round_trip::<Tier>();
    }

    #[test]
    fn aliases_only_on_the_command_line() {
        assert!(Backward::parse("detached-margin").is_err());
        assert_eq!(
            Backward::parse_arg("detached-margin"),
            Ok(Backward::DetachedMargin)
        );
        assert_eq!(Format::parse("bf16"), Ok(Format::Bf16));
        assert_eq!(
            Format::parse("f8").unwrap_err(),
            "unknown dtype \"f8\" (expected one of: f32, f64, f16, bf16)"
        );
    }
}
