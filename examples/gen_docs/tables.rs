//! The generated parts of the book (`docs/src/generated/`), computed by the oracle:
//! Markdown tables and hand-rolled SVG plots. Nothing here is typed in: every
//! number comes from an oracle call (or from an exact rational the oracle returned).
//!
//! Shared by `examples/gen_docs/main.rs`, which writes the files, and
//! `tests/docs.rs`, which regenerates them in memory and fails when the
//! committed files differ.

use asoftmax_spec::arith::{Format, Ival, RealScalar};
use asoftmax_spec::conformance::generators::scalar_inputs;
use asoftmax_spec::conformance::{FloatFormat, GenConfig};
use asoftmax_spec::loss::{self, LambdaSchedule, LossSpec, Variant};
use asoftmax_spec::margin::{DecisionRule, Sample};
use asoftmax_spec::multiangle::{self, chebyshev_t_coefficients, chebyshev_u_coefficients};
use asoftmax_spec::psi;
use asoftmax_spec::{Angle, Error};
use rug::ops::Pow;
use rug::{Integer, Rational};
use std::fmt::Write as _;

use crate::margin_tables;
use crate::numbers::{fixed, fixed_approx, rational_tex, rational_text};

/// Where the files go, relative to the crate root.
pub const OUT_DIR: &str = "docs/src/generated";

/// The command that regenerates the files (printed in every file and in test failures).
pub const REGENERATE: &str = "cargo run --example gen_docs";

/// The command that regenerates the audit table as well (slow: minutes).
pub const REGENERATE_AUDIT: &str = "cargo run --example gen_docs -- --audit";

/// One generated file: its name inside [`OUT_DIR`] and its full content.
pub struct GenFile {
    /// File name, e.g. `chebyshev.md`.
    pub name: String,
    /// The exact bytes to write.
    pub content: String,
}

/// The first line of every generated Markdown file.
fn md_header(what: &str) -> String {
    format!(
        "<!-- {what}: generated from the oracle by `{REGENERATE}`; do not edit by hand. -->\n\n"
    )
}

/// The fast part: every table and plot except the audit (a few seconds).
pub fn generate() -> Result<Vec<GenFile>, Error> {
    Ok(vec![
        GenFile {
            name: "chebyshev.md".into(),
            content: chebyshev_table(),
        },
        GenFile {
            name: "chebyshev_u.md".into(),
            content: chebyshev_u_table(),
        },
        GenFile {
            name: "stability.md".into(),
            content: stability_table(),
        },
        GenFile {
            name: "psi_cosines.md".into(),
            content: psi_cosine_table()?,
        },
        GenFile {
            name: "psi_angles.md".into(),
            content: psi_angle_table()?,
        },
        GenFile {
            name: "table1.md".into(),
            content: format!("{}{}", md_header("Table 1"), margin_tables::table1()),
        },
        GenFile {
            name: "decision_table.md".into(),
            content: format!("{}{}", md_header("decision table"), decision_table()?),
        },
        GenFile {
            name: "margin_table.md".into(),
            content: format!(
                "{}{}",
                md_header("margin table"),
                margin_tables::paper_margin_table()?
            ),
        },
        GenFile {
            name: "m_min_table.md".into(),
            content: format!(
                "{}{}",
                md_header("m_min table"),
                margin_tables::m_min_table(60)?
            ),
        },
        GenFile {
            name: "lambda_table.md".into(),
            content: lambda_table()?,
        },
        GenFile {
            name: "loss_table.md".into(),
            content: loss_table()?,
        },
        GenFile {
            name: "policy.md".into(),
            content: format!("{}{}", policy_table(), loss_scheme_table()),
        },
        GenFile {
            name: "audit_f16.md".into(),
            content: audit_f16_table(),
        },
        GenFile {
            name: "audit_heads.md".into(),
            content: format!(
                "{}{}",
                md_header("margin-family audit"),
                asoftmax_spec::audit::heads::head_table(&asoftmax_spec::audit::heads::run_heads())
            ),
        },
        GenFile {
            name: "psi.svg".into(),
            content: psi_plot()?,
        },
        GenFile {
            name: "heads.svg".into(),
            content: heads_plot()?,
        },
        GenFile {
            name: "chebyshev_t.svg".into(),
            content: chebyshev_plot()?,
        },
    ])
}

/// The exhaustive tier's tables, rendered from the committed run summaries
/// (`docs/exhaustive/`; the runs themselves take minutes to an hour).
pub fn generate_exhaustive() -> Result<Vec<GenFile>, String> {
    use crate::exhaustive_tables::{fast_table, zoo_table};
    Ok(vec![
        GenFile {
            name: "exhaustive_fast.md".into(),
            content: fast_table()?,
        },
        GenFile {
            name: "exhaustive_zoo.md".into(),
            content: zoo_table()?,
        },
    ])
}

/// The audit plots the book shows (files of `audit::write_plots` at m = 4).
const PLOTS: [&str; 3] = ["psi-f32-m4.svg", "psi-f64-m4.svg", "cos_m-f32-m4.svg"];

/// The accuracy audit (`asoftmax-spec audit` with its defaults: m = 1 … 8, f32 and
/// f64, the default inputs and seed): the scalar table, the loss table, and the
/// error plots at m = 4. Slow (tens of seconds in a debug build).
pub fn generate_audit() -> Result<Vec<GenFile>, Error> {
    use asoftmax_spec::audit;
    let cfg = audit::AuditConfig::default();
    let reports = audit::run(&cfg, &mut |_, _, _| {});
    let loss_reports = audit::run_loss(&cfg.formats, cfg.inputs.seed);
    let failing: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{} {} {}", r.kernel, r.format.name(), r.op))
        .chain(
            loss_reports
                .iter()
                .filter(|r| !r.passed())
                .map(|r| format!("{} {} loss", r.kernel, r.format.name())),
        )
        .collect();
    let mut s = format!(
        "<!-- accuracy audit: generated from the oracle by `{REGENERATE_AUDIT}`; do not edit by hand. -->\n\n"
    );
    let _ = write!(
        s,
        "Margins $m = {}, \\dots, {}$; inputs: edge cases ({} float neighbours each), {} sweep points, \
         {} random points per (kernel, op, $m$), seed `{:#x}`. The same as `asoftmax-spec audit`.\n\n\
         #### Scalar ops\n\n\
         Errors in ulps of the exact value, and in *scaled* ulps (ulps of the op's natural scale, \
         see the policy); `failures` counts inputs outside the default tolerance.\n\n",
        cfg.ms.start(),
        cfg.ms.end(),
        cfg.inputs.neighbours,
        cfg.inputs.sweep,
        cfg.inputs.random,
        cfg.inputs.seed
    );
    s.push_str(&audit::table(&reports));
    s.push_str(
        "\n#### Loss and gradients\n\n\
         Worst error over the generated batches, as a multiple of the allowance of the loss \
         suite's policy (above 1 fails): $k\\,m^2 d$ scaled ulps for the loss, \
         $k\\,m^2 d\\,(1 + \\beta S/8)$ for the gradients.\n\n",
    );
    s.push_str(&audit::loss_table(&loss_reports));
    let _ = writeln!(
        s,
        "\n{} of {} (kernel, format, output) combinations are outside the default tolerance{}{}.",
        failing.len(),
        reports.len() + loss_reports.len(),
        if failing.is_empty() { "" } else { ": " },
        failing.join(", ")
    );
    let mut files = vec![GenFile {
        name: "audit.md".into(),
        content: s,
    }];
    // The plots, through a scratch folder (audit::write_plots writes files).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = std::env::temp_dir().join(format!("gen_docs-{}-{nanos}", std::process::id()));
    let io = |e: std::io::Error| Error::Shape {
        what: format!("writing the audit plots: {e}"),
    };
    let written = audit::write_plots(&tmp, 4, 721).map_err(io)?;
    for path in &written {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("plot file names are UTF-8");
        // The dpsi_dcos plots are left out: their errors include ∞ (NaN results of the
        // Taylor port), which stretches the log axis to 300 decades.
        if !PLOTS.contains(&name) {
            continue;
        }
        let content = std::fs::read_to_string(path).map_err(io)?;
        files.push(GenFile {
            name: format!("audit-{name}"),
            content,
        });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(files)
}

// ---------------------------------------------------------------------------
// Chebyshev polynomials
// ---------------------------------------------------------------------------

/// `T_m(c)` (or `U_n`) as LaTeX, highest power first: `8c^{4} - 8c^{2} + 1`.
fn poly_tex(coeffs: &[Integer]) -> String {
    let mut s = String::new();
    for (i, a) in coeffs.iter().enumerate().rev() {
        if *a == 0 {
            continue;
        }
        let mag = Integer::from(a.abs_ref());
        let sign = if *a < 0 { "-" } else { "+" };
        if s.is_empty() {
            if *a < 0 {
                s.push('-');
            }
        } else {
            let _ = write!(s, " {sign} ");
        }
        let mag_text = if mag == 1 && i > 0 {
            String::new()
        } else {
            mag.to_string()
        };
        match i {
            0 => s.push_str(&mag.to_string()),
            1 => {
                let _ = write!(s, "{mag_text}c");
            }
            _ => {
                let _ = write!(s, "{mag_text}c^{{{i}}}");
            }
        }
    }
    s
}

fn coefficient_cell(a: Option<&Integer>) -> String {
    match a {
        Some(a) if *a != 0 => a.to_string().replace('-', "−"),
        _ => "·".into(),
    }
}

/// T_0 … T_8: the polynomial, its coefficients, and `Σ|a_i|` (the error amplification
/// of Horner's rule in the monomial basis).
fn chebyshev_table() -> String {
    let mut s = md_header("Chebyshev T_0 … T_8");
    s.push_str("$$\n\\begin{aligned}\n");
    for m in 0..=8u32 {
        let a = chebyshev_t_coefficients(m);
        let _ = writeln!(s, "T_{{{m}}}(c) &= {} \\\\", poly_tex(&a));
    }
    s.push_str("\\end{aligned}\n$$\n\n| $m$ |");
    for i in 0..=8 {
        let _ = write!(s, " $c^{{{i}}}$ |");
    }
    s.push_str(" $\\sum_i \\lvert a_i\\rvert$ |\n| ---: |");
    for _ in 0..=8 {
        s.push_str(" ---: |");
    }
    s.push_str(" ---: |\n");
    for m in 0..=8u32 {
        let a = chebyshev_t_coefficients(m);
        let abs_sum: Integer = a.iter().map(|x| Integer::from(x.abs_ref())).sum();
        let _ = write!(s, "| {m} |");
        for i in 0..=8 {
            let _ = write!(s, " {} |", coefficient_cell(a.get(i)));
        }
        let _ = writeln!(s, " {abs_sum} |");
    }
    s
}

/// U_0 … U_7 (for `dT_m/dc = m U_{m−1}`), with `U_{m−1}(1) = m`.
fn chebyshev_u_table() -> String {
    let mut s = md_header("Chebyshev U_0 … U_7");
    s.push_str(
        "| $m$ | $U_{m-1}(c) = \\dfrac{\\sin m\\theta}{\\sin\\theta}$ | $\\dfrac{d T_m}{dc} = m\\,U_{m-1}(c)$ | $U_{m-1}(1)$ | $U_{m-1}(-1)$ |\n\
         | --- | --- | --- | ---: | ---: |\n",
    );
    for m in 1..=8u32 {
        let u = chebyshev_u_coefficients(m - 1);
        let du: Vec<Integer> = u.iter().map(|a| Integer::from(a * m)).collect();
        // Cross-check against the derivative of T_m's coefficients, exactly.
        let t = chebyshev_t_coefficients(m);
        let dt: Vec<Integer> = t
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, a)| Integer::from(a * i as u32))
            .collect();
        assert_eq!(du, dt, "dT_{m}/dc = {m}·U_{}", m - 1);
        let at = |x: i32| -> Integer {
            u.iter()
                .enumerate()
                .map(|(i, a)| a * Integer::from(x).pow(i as u32))
                .sum()
        };
        let _ = writeln!(
            s,
            "| {m} | ${}$ | ${}$ | {} | {} |",
            poly_tex(&u),
            poly_tex(&du),
            at(1),
            at(-1).to_string().replace('-', "−")
        );
    }
    s
}

/// The four routes to `T_m(c)` run in `f32` and `f64` over the suite's inputs for
/// each `m` (edge cases, sweeps, random points), against the exact rational value:
/// `(max, mean)` absolute error in units of the format's epsilon.
fn route_errors<T>(m: u32) -> [(f64, f64); 4]
where
    T: FloatFormat + RealScalar,
{
    let inputs = scalar_inputs::<T>(m, &GenConfig::default());
    let coeffs = chebyshev_t_coefficients(m);
    let eps = 2f64.powi(1 - T::FORMAT.precision() as i32);
    let mut acc = [(0.0f64, 0.0f64); 4];
    for case in &inputs {
        let c = case.c;
        let exact =
            multiangle::cos_m_recurrence(m, &Rational::from_f64(c.to_f64()).expect("finite input"));
        let got = [
            multiangle::cos_m_recurrence(m, &c),
            multiangle::cos_m_binomial(m, &c),
            multiangle::cos_m_de_moivre(m, &c),
            multiangle::horner(&coeffs, &c),
        ];
        for (a, g) in acc.iter_mut().zip(got) {
            let err = Rational::from_f64(g.to_f64()).expect("finite result") - &exact;
            let units = err.to_f64().abs() / eps;
            a.0 = a.0.max(units);
            a.1 += units;
        }
    }
    for a in &mut acc {
        a.1 /= inputs.len() as f64;
    }
    acc
}

/// Measured accuracy of the recurrence, binomial, De Moivre and Horner routes in
/// `f32` and `f64` (the crate's generic routes, run in the format under test).
fn stability_table() -> String {
    let mut s = md_header("accuracy of the four routes to T_m");
    let cfg = GenConfig::default();
    let _ = write!(
        s,
        "Absolute error $\\lvert \\hat T_m(c) - T_m(c)\\rvert$ in units of the format's $\\varepsilon$ \
         ($2^{{-23}}$ for `f32`, $2^{{-52}}$ for `f64`), max (mean) over the conformance suite's inputs \
         for each $m$ (edge cases with {} neighbours, {} sweep points, {} random points, seed `{:#x}`). \
         The routes are `multiangle::cos_m_recurrence`, `cos_m_binomial`, `cos_m_de_moivre` and \
         `horner` on `chebyshev_t_coefficients`, evaluated in the format itself; the exact value is the \
         recurrence over rationals at the same float input.\n\n\
         | format | $m$ | inputs | recurrence | binomial | De Moivre | Horner (monomial) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        cfg.neighbours, cfg.sweep, cfg.random, cfg.seed
    );
    let num = |x: f64| {
        if x < 1000.0 {
            format!("{x:.2}")
        } else {
            let t = format!("{x:.2e}");
            let (mant, exp) = t.split_once('e').expect("exponent");
            format!("{mant}·10<sup>{exp}</sup>")
        }
    };
    let cell = |(max, mean): (f64, f64)| format!("{} ({})", num(max), num(mean));
    for (name, f32_fmt) in [("f32", true), ("f64", false)] {
        for m in [2u32, 4, 8, 16, 32] {
            let (n, e) = if f32_fmt {
                (scalar_inputs::<f32>(m, &cfg).len(), route_errors::<f32>(m))
            } else {
                (scalar_inputs::<f64>(m, &cfg).len(), route_errors::<f64>(m))
            };
            let _ = writeln!(
                s,
                "| {name} | {m} | {n} | {} | {} | {} | {} |",
                cell(e[0]),
                cell(e[1]),
                cell(e[2]),
                cell(e[3])
            );
        }
    }
    s
}

// ---------------------------------------------------------------------------
// ψ landmarks
// ---------------------------------------------------------------------------

/// ψ, its branch and dψ/dc at the rational cosines (the only rational values of
/// cos(rπ), by Niven's theorem), exact.
fn psi_cosine_table() -> Result<String, Error> {
    let cosines = [(1, 1), (1, 2), (0, 1), (-1, 2), (-1, 1)];
    let names = ["0", "\\pi/3", "\\pi/2", "2\\pi/3", "\\pi"];
    let mut s = md_header("ψ at the rational cosines");
    s.push_str("Entries are $\\psi(c)$ / $\\psi'(c)$, exact rationals (`psi::psi_cos_exact`, `psi::dpsi_dcos_exact`, each checked against the enclosures of `psi::psi` and `psi::dpsi_dcos`); the branch $k$ in brackets.\n\n| $m$ |");
    for ((n, d), name) in cosines.iter().zip(names) {
        let _ = write!(
            s,
            " $c = {}$ ($\\theta = {name}$) |",
            rational_tex(&Rational::from((*n, *d)))
        );
    }
    s.push_str("\n| --- |");
    for _ in cosines {
        s.push_str(" --- |");
    }
    s.push('\n');
    for m in 1..=6u32 {
        let _ = write!(s, "| {m} |");
        for (n, d) in cosines {
            let c = Rational::from((n, d));
            let at = Angle::Cos(c.clone());
            let v = psi::psi_cos_exact(m, &c)?;
            let dv = psi::dpsi_dcos_exact(m, &c)?;
            let k = psi::branch_from_cos(m, &c)?;
            // The public oracles enclose the same exact values.
            assert!(
                psi::psi(&Rational::from(m), &at, 64)?
                    .enclosure()
                    .contains_rational(&v)
            );
            assert!(
                psi::dpsi_dcos(m, &at, 64)?
                    .enclosure()
                    .contains_rational(&dv)
            );
            let _ = write!(
                s,
                " ${}$ / ${}$ $[{k}]$ |",
                rational_tex(&v),
                rational_tex(&dv)
            );
        }
        s.push('\n');
    }
    Ok(s)
}

/// ψ(θ) at θ = jπ/8, m = 1 … 4, 9 decimals (the c-form over an enclosure of cos(jπ/8)).
fn psi_angle_table() -> Result<String, Error> {
    let mut s = md_header("ψ at θ = jπ/8");
    s.push_str(
        "$\\psi(\\theta)$ at $\\theta = j\\pi/8$, 9 decimals, every digit certified.\n\n| $m$ |",
    );
    for j in 0..=8u32 {
        let name = match j {
            0 => "0".to_string(),
            8 => "\\pi".to_string(),
            4 => "\\pi/2".to_string(),
            2 | 6 => format!("{}\\pi/4", if j == 2 { "" } else { "3" }),
            1 => "\\pi/8".to_string(),
            _ => format!("{j}\\pi/8"),
        };
        let _ = write!(s, " ${name}$ |");
    }
    s.push_str("\n| --- |");
    for _ in 0..=8 {
        s.push_str(" ---: |");
    }
    s.push('\n');
    for m in 1..=4u32 {
        let _ = write!(s, "| {m} |");
        for j in 0..=8u32 {
            let v = fixed(9, |wp| {
                let theta = Ival::pi(wp)
                    .mul(&Ival::from_integer(&j.into(), wp))
                    .div(&Ival::from_integer(&8.into(), wp))
                    .expect("8 ≠ 0");
                psi::psi_cos_ival(m, &theta.cos())
            })?;
            let _ = write!(s, " {v} |");
        }
        s.push('\n');
    }
    Ok(s)
}

// ---------------------------------------------------------------------------
// Margin, λ, loss
// ---------------------------------------------------------------------------

/// The worked Table-1 example of `tests/margin.rs`.
fn decision_table() -> Result<String, Error> {
    let q = |n: i64, d: i64| Rational::from((n, d));
    let w = [vec![q(2, 1), q(0, 1)], vec![q(0, 1), q(1, 1)]];
    let b = [q(0, 1), q(1, 2)];
    let mut samples: Vec<(String, Sample)> = [
        (q(1, 1), q(1, 10)),
        (q(1, 1), q(1, 2)),
        (q(1, 1), q(1, 1)),
        (q(1, 2), q(1, 1)),
        (q(1, 10), q(1, 1)),
    ]
    .into_iter()
    .map(|(a, c)| {
        (
            format!("x=({}, {})", rational_text(&a), rational_text(&c)),
            Sample::Vectors {
                x: vec![a, c],
                w: w.clone(),
                b: b.clone(),
            },
        )
    })
    .collect();
    samples.push((
        "‖x‖=1, θ=(3/10, 6/5)".into(),
        Sample::Angles {
            norm: q(1, 1),
            theta: [Angle::Theta(q(3, 10)), Angle::Theta(q(6, 5))],
        },
    ));
    let rules = [
        DecisionRule::Softmax,
        DecisionRule::ModifiedSoftmax,
        DecisionRule::ASoftmax(q(4, 1)),
    ];
    let mut s = String::from(
        "$W_1 = (2, 0)$, $W_2 = (0, 1)$ ($\\Theta = \\pi/2$), $b = (0, \\tfrac12)$; 12 decimals.\n\n",
    );
    s.push_str(&margin_tables::decision_table(&rules, &samples, 12)?);
    Ok(s)
}

/// SphereFace's shipped λ schedule: λ and the weight 1/(1 + λ) of ψ in the target logit.
fn lambda_table() -> Result<String, Error> {
    let mut s = md_header("λ schedule");
    s.push_str(
        "$\\lambda = \\max(\\lambda_{\\min}, \\text{base}\\,(1 + \\gamma\\,\\text{iter})^{-\\text{power}})$ with the shipped \
         defaults base 1000, $\\gamma = 0.12$, power 1, $\\lambda_{\\min} = 5$ (`loss::lambda`), 6 decimals.\n\n\
         | iteration | $\\lambda$ | weight of $\\psi$: $1/(1+\\lambda)$ | weight of $\\cos\\theta$: $\\lambda/(1+\\lambda)$ |\n\
         | ---: | ---: | ---: | ---: |\n",
    );
    for iter in [0u32, 10, 100, 500, 1000, 1658, 1659, 5000, 20000] {
        let sched = LambdaSchedule {
            base: Rational::from(1000),
            gamma: Rational::from((12, 100)),
            power: Rational::from(1),
            lambda_min: Rational::from(5),
            iter: Rational::from(iter),
        };
        let one = |wp| Ival::from_integer(&1.into(), wp);
        let lam = |wp| Ok(loss::lambda(&sched, wp)?.enclosure().clone());
        let w_psi = |wp| {
            let l: Ival = lam(wp)?;
            Ok(one(wp).div(&l.add(&one(wp))).expect("1 + λ ≥ 1"))
        };
        let w_cos = |wp| {
            let l: Ival = lam(wp)?;
            Ok(l.div(&l.add(&one(wp))).expect("1 + λ ≥ 1"))
        };
        let _ = writeln!(
            s,
            "| {iter} | {} | {} | {} |",
            fixed(6, lam)?,
            fixed(6, w_psi)?,
            fixed(6, w_cos)?
        );
    }
    Ok(s)
}

/// The loss of one sample under the variants, margins, λ and scales.
fn loss_table() -> Result<String, Error> {
    let q = |n: i64, d: i64| Rational::from((n, d));
    let mut s = md_header("worked loss values");
    s.push_str(
        "One sample $x = (3, 4)$ ($\\lVert x\\rVert = 5$) with label $y = 0$, two classes \
         $W_0 = (2, 0)$, $W_1 = (0, 1)$: $\\cos\\theta_0 = 3/5$, $\\cos\\theta_1 = 4/5$ \
         (the sample is closer to the wrong class). Loss values from `loss::loss`, 12 decimals.\n\n\
         | variant | $m$ | $\\lambda$ | $s$ | $f_y$ | $f_1$ | loss $\\ell$ |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let cases: [(Variant, u32, i64, i64); 9] = [
        (Variant::ASoftmax, 1, 0, 1),
        (Variant::ASoftmax, 2, 0, 1),
        (Variant::ASoftmax, 4, 0, 1),
        (Variant::ASoftmax, 4, 5, 1),
        (Variant::ASoftmax, 4, 1000, 1),
        (Variant::ASoftmax, 4, 0, 30),
        (Variant::LSoftmax, 1, 0, 1),
        (Variant::LSoftmax, 4, 0, 1),
        (Variant::LSoftmax, 4, 5, 1),
    ];
    for (variant, m, lambda, scale) in cases {
        let mut spec = LossSpec::new(
            vec![vec![q(3, 1), q(4, 1)]],
            vec![vec![q(2, 1), q(0, 1)], vec![q(0, 1), q(1, 1)]],
            vec![0],
            Rational::from(m),
        );
        spec.variant = variant;
        spec.lambda = Rational::from(lambda);
        spec.scale = Rational::from(scale);
        // The logits, exactly: r = 5, c_y = 3/5, c_1 = 4/5, ν = (2, 1).
        let c_y = q(3, 5);
        let psi_y = psi::psi_cos_exact(m, &c_y)?;
        let lam = Rational::from(lambda);
        let phi = (Rational::from(&lam * &c_y) + psi_y) / Rational::from(&lam + 1u32);
        let (nu_y, nu_1) = match variant {
            Variant::ASoftmax => (q(1, 1), q(1, 1)),
            Variant::LSoftmax => (q(2, 1), q(1, 1)),
        };
        let f_y = Rational::from(scale) * q(5, 1) * nu_y * phi;
        let f_1 = Rational::from(scale) * q(5, 1) * nu_1 * q(4, 5);
        let dec = |r: &Rational| fixed(6, |wp| Ok(Ival::from_rational(r, wp)));
        let l = fixed_approx(12, |p| Ok(loss::loss(&spec, false, p)?.loss))?;
        let name = match variant {
            Variant::ASoftmax => "A-Softmax",
            Variant::LSoftmax => "L-Softmax",
        };
        let _ = writeln!(
            s,
            "| {name} | {m} | {lambda} | {scale} | {} | {} | {l} |",
            dec(&f_y)?,
            dec(&f_1)?
        );
    }
    Ok(s)
}

/// The default scalar tolerance policy (`conformance::Policy::default()`), with the
/// reasons below the table (they contain `|`, which a table cell cannot).
fn policy_table() -> String {
    use asoftmax_spec::conformance::{Policy, ScalarOp};
    let policy = Policy::default();
    let mut s = md_header("default tolerance policy");
    s.push_str(
        "| op | format | ulps of the exact value | scaled ulps per $m^2$ | natural scale |\n\
         | --- | --- | ---: | ---: | --- |\n",
    );
    let mut reasons: Vec<&str> = Vec::new();
    for op in ScalarOp::ALL {
        for fmt in Format::EVERY {
            let b = policy.bound(op, fmt);
            let scale = match op {
                ScalarOp::CosM => "$1$",
                ScalarOp::Psi => "$\\max(1, \\lvert\\psi\\rvert)$",
                ScalarOp::DpsiDcos => "$m^2$",
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {scale} |",
                op.name(),
                fmt.name(),
                b.ulps,
                b.scaled_per_m2
            );
            if !reasons.contains(&b.reason) {
                reasons.push(b.reason);
            }
        }
    }
    for r in reasons {
        let _ = write!(s, "\nWhy: {r}.\n");
    }
    s
}

/// The loss policy's entries per scheme (`LossPolicy::default()`): the allowances per
/// `m²·d` of the value and the gradients, in ulps of the inputs' format, and the reasons.
fn loss_scheme_table() -> String {
    use asoftmax_spec::conformance::loss_suite::{LossOp, LossPolicy, Scheme};
    let policy = LossPolicy::default();
    let mut s = String::from(
        "\n#### Loss tolerances by precision scheme\n\n\
         | scheme | inputs (ulps of) | results | loss per $m^2 d$ | gradients per $m^2 d$ (× $1 + \\beta S/8$) |\n\
         | --- | --- | --- | ---: | ---: |\n",
    );
    let rows = Format::EVERY
        .map(|f| (Scheme::Native, f))
        .into_iter()
        .chain([Format::F16, Format::Bf16].map(|f| (Scheme::Autocast, f)));
    for (scheme, fmt) in rows {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            scheme.name(),
            fmt.name(),
            scheme.result_format(fmt).name(),
            policy.per_m2d_in(LossOp::Value, fmt, scheme),
            policy.per_m2d_in(LossOp::GradX, fmt, scheme)
        );
    }
    for scheme in [Scheme::Native, Scheme::Autocast] {
        let _ = write!(
            s,
            "\nWhy (`{}`): {}.\n",
            scheme.name(),
            policy.reason_for(scheme)
        );
    }
    s
}

/// The audit in binary16 at `m = 4` (`asoftmax-spec audit --dtype f16 --m 4`): the
/// textbook and every zoo formula with each operation rounded to binary16.
fn audit_f16_table() -> String {
    use asoftmax_spec::audit;
    let cfg = audit::AuditConfig {
        ms: 4..=4,
        formats: vec![Format::F16],
        ..audit::AuditConfig::default()
    };
    let reports = audit::run(&cfg, &mut |_, _, _| {});
    format!(
        "{}{}",
        md_header("binary16 audit (asoftmax-spec audit --dtype f16 --m 4)"),
        audit::table(&reports)
    )
}

// ---------------------------------------------------------------------------
// SVG plots (hand-rolled: a frame, ticks, polylines, a legend)
// ---------------------------------------------------------------------------

/// SVG markup for a subscript `t` followed by `rest` on the baseline (`dy` shifts,
/// understood by every renderer).
fn sub(t: &str, rest: &str) -> String {
    format!("<tspan dy=\"4\" font-size=\"75%\">{t}</tspan><tspan dy=\"-4\">{rest}</tspan>")
}

/// SVG markup for a superscript `t` followed by `rest` on the baseline.
fn sup(t: &str, rest: &str) -> String {
    format!("<tspan dy=\"-6\" font-size=\"75%\">{t}</tspan><tspan dy=\"6\">{rest}</tspan>")
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.left + (self.w - self.left - self.right) * (x - self.x.0) / (self.x.1 - self.x.0)
    }
    fn py(&self, y: f64) -> f64 {
        self.h
            - self.bottom
            - (self.h - self.top - self.bottom) * (y - self.y.0) / (self.y.1 - self.y.0)
    }

    /// The SVG header, the plot area, grid lines with tick labels, and axis titles.
    #[allow(clippy::too_many_arguments)]
    fn open(
        &self,
        title: &str,
        title_markup: &str,
        desc: &str,
        xticks: &[(f64, &str)],
        yticks: &[(f64, String)],
        xlabel: &str,
        ylabel: &str,
    ) -> String {
        let (w, h) = (self.w, self.h);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
             font-family=\"sans-serif\" font-size=\"13\" role=\"img\" aria-labelledby=\"t d\">\n\
             <!-- generated from the oracle by examples/gen_docs; do not edit by hand. -->\n\
             <title id=\"t\">{title}</title>\n<desc id=\"d\">{desc}</desc>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{:.1}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{title_markup}</text>\n",
            w / 2.0
        );
        let (x0, x1) = (self.px(self.x.0), self.px(self.x.1));
        let (y0, y1) = (self.py(self.y.0), self.py(self.y.1));
        for (v, label) in xticks {
            let x = self.px(*v);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y0:.1}\" stroke=\"#e0e0e0\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                y0 + 18.0
            );
        }
        for (v, label) in yticks {
            let y = self.py(*v);
            let _ = writeln!(
                s,
                "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                x0 - 6.0,
                y + 4.0
            );
        }
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"black\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xlabel}</text>\n\
             <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">{ylabel}</text>",
            x1 - x0,
            y0 - y1,
            (x0 + x1) / 2.0,
            h - 10.0,
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0
        );
        s
    }

    fn polyline(&self, pts: &[(f64, f64)], color: &str, dash: Option<&str>) -> String {
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.2},{:.2}", self.px(*x), self.py(*y)))
            .collect();
        let dash = dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""));
        format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>\n",
            path.join(" ")
        )
    }

    fn legend(
        &self,
        entries: &[(String, &str, Option<&str>)],
        x: f64,
        y: f64,
        width: f64,
    ) -> String {
        let mut s = format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width}\" height=\"{:.1}\" fill=\"white\" stroke=\"#999\"/>\n",
            x - 8.0,
            y - 16.0,
            18.0 * entries.len() as f64 + 10.0
        );
        for (i, (name, color, dash)) in entries.iter().enumerate() {
            let yy = y + 18.0 * i as f64;
            let dash = dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""));
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\
                 <text x=\"{:.1}\" y=\"{yy:.1}\">{name}</text>",
                yy - 4.0,
                x + 28.0,
                yy - 4.0,
                x + 36.0
            );
        }
        s
    }
}

/// A plot frame with its x and y ticks.
type FrameTicks = (Frame, [(f64, &'static str); 5], Vec<(f64, String)>);

/// The frame of a plot against θ ∈ [0, π] with `y` from `lo` to `hi`: its ticks at the
/// quarters of π and at every integer.
fn theta_frame(lo: i32, hi: i32) -> FrameTicks {
    let pi = std::f64::consts::PI;
    let frame = Frame {
        w: 720.0,
        h: 440.0,
        left: 56.0,
        right: 20.0,
        top: 36.0,
        bottom: 48.0,
        x: (0.0, pi),
        y: (f64::from(lo), f64::from(hi)),
    };
    let xticks = [
        (0.0, "0"),
        (pi / 4.0, "π/4"),
        (pi / 2.0, "π/2"),
        (3.0 * pi / 4.0, "3π/4"),
        (pi, "π"),
    ];
    let yticks = (lo..=hi)
        .map(|v| (f64::from(v), format!("{v}").replace('-', "−")))
        .collect();
    (frame, xticks, yticks)
}
/// ψ(θ) for m = 1 … 4 on [0, π] (the paper's figure), with cos 4θ dashed.
fn psi_plot() -> Result<String, Error> {
    let n = 240;
    let thetas: Vec<f64> = (0..=n)
        .map(|i| std::f64::consts::PI * f64::from(i) / f64::from(n))
        .collect();
    let (frame, xticks, yticks) = theta_frame(-7, 1);
    let mut s = frame.open(
        "ψ(θ) = (−1)^k cos(mθ) − 2k, m = 1 … 4",
        &format!("ψ(θ) = (−1){}", sup("k", " cos(mθ) − 2k, m = 1 … 4")),
        "psi of theta on [0, pi] for m = 1, 2, 3, 4: monotonically decreasing from 1 to 1 − 2m; \
         cos(4 theta) dashed for comparison.",
        &xticks,
        &yticks,
        "θ",
        "ψ(θ)",
    );
    let mut legend = Vec::new();
    for m in 1..=4u32 {
        let mut pts = Vec::with_capacity(thetas.len());
        for t in &thetas {
            let at = Angle::Theta(Rational::from_f64(*t).expect("finite"));
            pts.push((*t, psi::psi(&Rational::from(m), &at, 53)?.f64()));
        }
        let color = COLORS[(m - 1) as usize];
        s.push_str(&frame.polyline(&pts, color, None));
        legend.push((format!("m = {m}"), color, None));
    }
    let mut cos4 = Vec::with_capacity(thetas.len());
    for t in &thetas {
        let at = Angle::Theta(Rational::from_f64(*t).expect("finite"));
        cos4.push((*t, multiangle::cos_m(4, &at, 53)?.f64()));
    }
    s.push_str(&frame.polyline(&cos4, "#7f7f7f", Some("6 4")));
    legend.push(("cos 4θ".into(), "#7f7f7f", Some("6 4")));
    s.push_str(&frame.legend(&legend, 80.0, frame.py(-4.6), 150.0));
    s.push_str("</svg>\n");
    Ok(s)
}

/// The target logits of the margin family against θ (`head::family::target_logit` at
/// `c = fl(cos θ)`): every head with its defaults, ψ for m = 2, the plain `cos θ` (which
/// is also SphereFace-R v2's target logit) and v2's non-target logit `cos(θ/m)`.
fn heads_plot() -> Result<String, Error> {
    use asoftmax_spec::head::family::{
        AdaFace, Head, MagFace, RVersion, nontarget_logit, target_logit,
    };
    use asoftmax_spec::head::{Combined, Fallback};
    let n = 360;
    let pi = std::f64::consts::PI;
    let thetas: Vec<f64> = (0..=n).map(|i| pi * f64::from(i) / f64::from(n)).collect();
    let (mut frame, xticks, yticks) = theta_frame(-3, 1);
    frame.h = 600.0;
    let mut s = frame.open(
        "The margin family's target logits against θ",
        "target logit t(θ) of every head of the family (defaults), ψ for m = 2, cos θ",
        "Target logits on [0, pi]: ArcFace m = 0.5 without fallback rises again past pi − 0.5; \
         with the clamp at pi it stays at −1; with the linear fallback (also CurricularFace's and \
         MagFace's) it drops below −1; CosFace is cos theta − 0.35; psi for m = 2 falls to −3 and \
         for m = 1.5 to −2; SphereFace-R v1 stops at −1; SphereFace2's g(c) − 0.4 and AdaFace's \
         shifted curves; SphereFace-R v2 leaves the target at cos theta and raises the others to \
         cos(theta/1.5).",
        &xticks,
        &yticks,
        "θ",
        "t(θ)",
    );
    let q = |s: &str| asoftmax_spec::arith::parse_exact(s).expect("a decimal");
    let arc = |f| Head::Combined(Combined::arcface(q("0.5"), f));
    let heads: Vec<(&str, Head)> = vec![
        ("ArcFace 0.5, none", arc(Fallback::None)),
        ("ArcFace 0.5, clamp_pi", arc(Fallback::ClampPi)),
        ("ArcFace 0.5, linear; CurricularFace", arc(Fallback::Linear)),
        ("CosFace 0.35", Head::Combined(Combined::cosface(q("0.35")))),
        (
            "combined 1, 0.3, 0.2",
            Head::Combined(Combined {
                m1: Rational::from(1),
                m2: q("0.3"),
                m3: q("0.2"),
                fallback: Fallback::None,
            }),
        ),
        ("ψ, m = 2", Head::SphereFace { m: q("2") }),
        ("SphereFace ψ, m = 1.5", Head::SphereFace { m: q("1.5") }),
        (
            "SphereFace-R v1, m = 1.5",
            Head::SphereFaceR {
                m: q("1.5"),
                version: RVersion::V1,
            },
        ),
        (
            "SphereFace2-C, t = 3, m = 0.4",
            Head::SphereFace2 {
                t: 3,
                m: q("0.4"),
                margin: asoftmax_spec::head::sphereface2::Margin::C,
            },
        ),
        (
            "AdaFace 0.4, ‖x‖ = 30 (μ 20, σ 5)",
            Head::AdaFace(AdaFace {
                m: q("0.4"),
                h: q("0.333"),
                eps: q("0.001"),
                norm: q("30"),
                mean: q("20"),
                std: q("5"),
            }),
        ),
        (
            "MagFace, a = 60 (m = 0.625)",
            Head::MagFace(MagFace {
                l_a: q("10"),
                u_a: q("110"),
                l_m: q("0.45"),
                u_m: q("0.8"),
                a: q("60"),
                fallback: Fallback::Linear,
            }),
        ),
    ];
    let palette = [
        COLORS[0], COLORS[1], COLORS[2], COLORS[3], COLORS[4], COLORS[5], "#e377c2", "#17becf",
        "#bcbd22", "#000000", "#ff9896",
    ];
    let mut legend = Vec::new();
    for ((label, h), color) in heads.iter().zip(palette) {
        let mut pts = Vec::with_capacity(thetas.len());
        for t in &thetas {
            let c = Rational::from_f64(t.cos()).expect("finite");
            pts.push((*t, target_logit(h, &c, 53)?.f64()));
        }
        s.push_str(&frame.polyline(&pts, color, None));
        legend.push(((*label).to_string(), color, None));
    }
    let v2 = Head::SphereFaceR {
        m: q("1.5"),
        version: RVersion::V2,
    };
    let mut plain = Vec::with_capacity(thetas.len());
    let mut other = Vec::with_capacity(thetas.len());
    for t in &thetas {
        let c = Rational::from_f64(t.cos()).expect("finite");
        plain.push((*t, t.cos()));
        other.push((*t, nontarget_logit(&v2, &c, &c, 53)?.f64()));
    }
    s.push_str(&frame.polyline(&plain, "#7f7f7f", Some("6 4")));
    legend.push((
        "cos θ (SphereFace-R v2 target)".into(),
        "#7f7f7f",
        Some("6 4"),
    ));
    s.push_str(&frame.polyline(&other, "#7f7f7f", Some("2 3")));
    legend.push(("v2 non-target cos(θ/1.5)".into(), "#7f7f7f", Some("2 3")));
    s.push_str(&frame.legend(&legend, 70.0, frame.py(-1.15), 270.0));
    s.push_str("</svg>\n");
    Ok(s)
}

/// T_m(c) = cos(mθ) for m = 1 … 6 on c ∈ [−1, 1].
fn chebyshev_plot() -> Result<String, Error> {
    let n = 200;
    let frame = Frame {
        w: 720.0,
        h: 440.0,
        left: 56.0,
        right: 110.0,
        top: 36.0,
        bottom: 48.0,
        x: (-1.0, 1.0),
        y: (-1.15, 1.15),
    };
    let xticks: Vec<(f64, String)> = (-4..=4)
        .map(|i| {
            (
                f64::from(i) / 4.0,
                format!("{}", f64::from(i) / 4.0).replace('-', "−"),
            )
        })
        .collect();
    let xt: Vec<(f64, &str)> = xticks.iter().map(|(v, l)| (*v, l.as_str())).collect();
    let yticks: Vec<(f64, String)> = (-2..=2)
        .map(|i| {
            (
                f64::from(i) / 2.0,
                format!("{}", f64::from(i) / 2.0).replace('-', "−"),
            )
        })
        .collect();
    let mut s = frame.open(
        "T_m(c) = cos(mθ), c = cos θ, m = 1 … 6",
        &format!("T{}", sub("m", "(c) = cos(mθ), c = cos θ, m = 1 … 6")),
        "Chebyshev polynomials of the first kind T_1 to T_6 on [-1, 1]: each oscillates between -1 and 1 \
         with m roots and T_m(1) = 1.",
        &xt,
        &yticks,
        "c = cos θ",
        &format!("T{}", sub("m", "(c)")),
    );
    let mut legend = Vec::new();
    for m in 1..=6u32 {
        let mut pts = Vec::with_capacity(n + 1);
        for i in 0..=n {
            let c = Rational::from((i as i64 - (n / 2) as i64, (n / 2) as i64));
            let x = c.to_f64();
            pts.push((x, multiangle::cos_m(m, &Angle::Cos(c), 53)?.f64()));
        }
        let color = COLORS[(m - 1) as usize];
        s.push_str(&frame.polyline(&pts, color, None));
        legend.push((format!("T{}", sub(&m.to_string(), "")), color, None));
    }
    s.push_str(&frame.legend(&legend, frame.w - 92.0, frame.py(0.6), 80.0));
    s.push_str("</svg>\n");
    Ok(s)
}
