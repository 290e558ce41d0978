//! Command-line glue: the [`Name`] tables as clap value parsers, so that the command
//! line reads the same names the JSON interfaces write.

use crate::names::Name;
use clap::builder::{PossibleValue, TypedValueParser};

/// A clap value parser for a [`Name`] enum: the canonical names (listed in the help),
/// and `-` for `_` as an alias ([`Name::parse_arg`]); an unknown name is an error
/// that lists the accepted ones.
pub struct NameParser<T: 'static> {
    /// The accepted values (all of `T::ALL`, or a subset).
    accepted: &'static [T],
}

/// The value parser of `T`'s name table (`#[arg(value_parser = name_parser::<T>())]`).
pub fn name_parser<T: Name>() -> NameParser<T> {
    NameParser { accepted: T::ALL }
}

/// The value parser of a subset of `T`'s values (`vectors --op` takes 4 of the 8 ops).
pub fn name_parser_of<T: Name>(accepted: &'static [T]) -> NameParser<T> {
    NameParser { accepted }
}

impl<T: Name> NameParser<T> {
    fn parse(&self, text: &str) -> Result<T, String> {
        let expected = || {
            let names: Vec<&str> = self.accepted.iter().map(|v| v.name()).collect();
            format!("expected one of: {}", names.join(", "))
        };
        match T::parse_arg(text) {
            Ok(v) if self.accepted.contains(&v) => Ok(v),
            Ok(v) => Err(format!(
                "{} \"{}\" is not accepted here ({})",
                T::WHAT,
                v.name(),
                expected()
            )),
            Err(e) if self.accepted.len() == T::ALL.len() => Err(e),
            Err(_) => Err(format!("unknown {} \"{text}\" ({})", T::WHAT, expected())),
        }
    }
}

impl<T> Clone for NameParser<T> {
    fn clone(&self) -> Self {
        NameParser {
            accepted: self.accepted,
        }
    }
}

impl<T: Name + Send + Sync> TypedValueParser for NameParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // clap's own error for a failed `Fn(&str) -> Result`: names the flag and the value.
        let accepted = self.accepted;
        (move |s: &str| NameParser { accepted }.parse(s)).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.accepted.iter().map(|v| PossibleValue::new(v.name())),
        ))
    }
}
