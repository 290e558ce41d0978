//! The accuracy audit: the conformance suite run over the crate's fast kernels,
//! the textbook implementation and every published-formula variant of the zoo,
//! in `f32` and `f64`, summarized as one table — which variant is off, by how
//! much, and where — plus, optionally, SVG plots of each variant's error
//! against θ.
//!
//! It sits above everything it composes: the conformance suite
//! ([`crate::conformance`]) and the kernels it judges ([`crate::fast`], [`crate::zoo`]),
//! which themselves implement the suite's kernel traits.

pub mod heads;

use crate::arith::{Bf16, F16, Format};
use crate::conformance::generators::GenConfig;
use crate::conformance::kernel::LossKernel;
use crate::conformance::kernel::{FloatFormat, ScalarKernel};
use crate::conformance::loss_suite::{LossOp, LossPolicy, LossReport, TextbookLoss, check_loss};
use crate::conformance::policy::{Policy, ScalarOp};
use crate::conformance::scalar_suite::{OpReport, check_scalar, exact_scalar, fmt_err};
use crate::conformance::textbook::Textbook;
use crate::zoo::ZooFloat;
use std::fmt::Write as _;
use std::ops::RangeInclusive;

/// The kernels audited in format `T`: the crate's fast kernels, the textbook
/// recurrence, then the zoo.
pub fn kernels_f32() -> Vec<Box<dyn ScalarKernel<f32>>> {
    let mut v: Vec<Box<dyn ScalarKernel<f32>>> =
        vec![Box::new(crate::fast::Fast), Box::new(Textbook)];
    v.extend(crate::zoo::all_f32());
    v
}

/// See [`kernels_f32`].
pub fn kernels_f64() -> Vec<Box<dyn ScalarKernel<f64>>> {
    let mut v: Vec<Box<dyn ScalarKernel<f64>>> =
        vec![Box::new(crate::fast::Fast), Box::new(Textbook)];
    v.extend(crate::zoo::all_f64());
    v
}

/// The kernels audited in a 16-bit format ([`F16`], [`Bf16`]): the textbook recurrence,
/// then the zoo (the crate's fast kernels are `f32`/`f64` only). Every operation is
/// rounded to the format, so these rows show what evaluating each published formula
/// in half precision costs.
pub fn kernels_narrow<T: ZooFloat>() -> Vec<Box<dyn ScalarKernel<T>>> {
    let mut v: Vec<Box<dyn ScalarKernel<T>>> = vec![Box::new(Textbook)];
    v.extend(crate::zoo::all::<T>());
    v
}

/// How many kernels [`run`] audits in `fmt`.
fn kernel_count(fmt: Format) -> usize {
    match fmt {
        Format::F32 | Format::F64 => kernels_f64().len(),
        Format::F16 | Format::Bf16 => kernels_narrow::<F16>().len(),
    }
}

/// What to audit.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Margins.
    pub ms: RangeInclusive<u32>,
    /// Formats.
    pub formats: Vec<Format>,
    /// Input generation.
    pub inputs: GenConfig,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            ms: 1..=8,
            formats: vec![Format::F32, Format::F64],
            inputs: GenConfig::default(),
        }
    }
}

/// Runs the suite over every kernel, op and format; `progress(done, total, what)`
/// is called before each (kernel, format) pair.
pub fn run(cfg: &AuditConfig, progress: &mut dyn FnMut(usize, usize, &str)) -> Vec<OpReport> {
    let mut reports = Vec::new();
    let total = cfg.formats.iter().map(|&f| kernel_count(f)).sum();
    let mut done = 0;
    let mut started = |what: &str| {
        progress(done, total, what);
        done += 1;
    };
    for fmt in &cfg.formats {
        reports.extend(match fmt {
            Format::F32 => check_kernels(&kernels_f32(), cfg, &mut started),
            Format::F64 => check_kernels(&kernels_f64(), cfg, &mut started),
            Format::F16 => check_kernels(&kernels_narrow::<F16>(), cfg, &mut started),
            Format::Bf16 => check_kernels(&kernels_narrow::<Bf16>(), cfg, &mut started),
        });
    }
    progress(total, total, "done");
    reports
}

/// The suite's report on every op of each of `kernels` (format `T`);
/// `started("<kernel> <format>")` is called before each kernel.
fn check_kernels<T: FloatFormat>(
    kernels: &[Box<dyn ScalarKernel<T>>],
    cfg: &AuditConfig,
    started: &mut dyn FnMut(&str),
) -> Vec<OpReport> {
    let policy = Policy::default();
    let mut reports = Vec::new();
    for k in kernels {
        started(&format!("{} {}", k.name(), T::FORMAT.name()));
        for op in ScalarOp::ALL {
            reports.push(check_scalar::<T, _>(
                k.as_ref(),
                op,
                cfg.ms.clone(),
                &cfg.inputs,
                &policy,
            ));
        }
    }
    reports
}

/// The accuracy table (Markdown): one row per kernel, format and op.
pub fn table(reports: &[OpReport]) -> String {
    let mut s = String::from(
        "| kernel | format | op | m | cases | failures | max ulps | max scaled ulps | worst input |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in reports {
        if r.ms.is_empty() {
            continue;
        }
        let worst = r.worst.as_ref().map_or(String::new(), |w| {
            let hex = crate::arith::hex(w.input, r.format);
            format!("m={} c={hex} ({})", w.m, w.origin)
        });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}..={} | {} | {} | {} | {} | {} |",
            r.kernel,
            r.format.name(),
            r.op,
            r.ms.first().unwrap_or(&0),
            r.ms.last().unwrap_or(&0),
            r.cases,
            r.failures,
            fmt_err(r.max_ulps),
            fmt_err(r.max_scaled),
            worst
        );
    }
    s
}

fn error_curve<T: FloatFormat>(
    k: &dyn ScalarKernel<T>,
    op: ScalarOp,
    m: u32,
    n: usize,
) -> Vec<(f64, f64)> {
    (0..n)
        .filter_map(|i| {
            let theta = std::f64::consts::PI * i as f64 / (n - 1) as f64;
            let c = T::from_f64(theta.cos());
            let exact = exact_scalar(op, m, c.to_f64()).ok()?;
            let got = op.eval(k, m, c).to_f64();
            let (_, scaled) = Policy::errors(op, T::FORMAT, m, got, &exact);
            Some((theta, scaled))
        })
        .collect()
}

/// Errors above this are drawn at the top of a plot (NaN and ∞ included), so that
/// one non-finite point does not stretch the axis over hundreds of decades.
pub const PLOT_ERROR_CAP: f64 = 1e12;

/// An SVG plot of `log10(1 + scaled error)` against θ ∈ [0, π] for several curves;
/// errors are capped at [`PLOT_ERROR_CAP`].
pub fn svg_plot(title: &str, curves: &[(String, Vec<(f64, f64)>)]) -> String {
    let (w, h, pad) = (720.0, 360.0, 48.0);
    let cap = |e: f64| {
        if e.is_nan() {
            PLOT_ERROR_CAP
        } else {
            e.min(PLOT_ERROR_CAP)
        }
    };
    let ymax = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| (1.0 + cap(p.1)).log10()))
        .fold(1.0f64, f64::max)
        .ceil();
    let x = |t: f64| pad + (w - 2.0 * pad) * t / std::f64::consts::PI;
    let y = |e: f64| h - pad - (h - 2.0 * pad) * ((1.0 + cap(e)).log10() / ymax);
    let colors = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
        "#7f7f7f",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">θ (0 … π)</text>\n\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">log10(1 + scaled error in ulps)</text>\n",
        w / 2.0,
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    for i in 0..=ymax as usize {
        let yy = y(10f64.powi(i as i32) - 1.0);
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{i}</text><line x1=\"{pad}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"#ddd\"/>",
            pad - 4.0,
            yy + 4.0,
            w - pad
        );
    }
    for (i, (name, pts)) in curves.iter().enumerate() {
        let color = colors[i % colors.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(t, e)| format!("{:.1},{:.1}", x(*t), y(*e)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.2\" points=\"{}\"/>\n<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            path.join(" "),
            w - pad - 170.0,
            pad + 14.0 * i as f64
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes one SVG per (format, op) at margin `m` into `dir`: every kernel's scaled
/// error against θ over `n` evenly spaced angles. Returns the files written.
pub fn write_plots(
    dir: &std::path::Path,
    m: u32,
    n: usize,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for op in ScalarOp::ALL {
        for fmt in [Format::F32, Format::F64] {
            let curves: Vec<(String, Vec<(f64, f64)>)> = match fmt {
                Format::F32 => kernels_f32()
                    .iter()
                    .filter(|k| k.supports(m))
                    .map(|k| (k.name(), error_curve::<f32>(k.as_ref(), op, m, n)))
                    .collect(),
                Format::F64 => kernels_f64()
                    .iter()
                    .filter(|k| k.supports(m))
                    .map(|k| (k.name(), error_curve::<f64>(k.as_ref(), op, m, n)))
                    .collect(),
                Format::F16 | Format::Bf16 => unreachable!("plots are drawn for f32 and f64"),
            };
            let title = format!("{} error against θ, m = {m}, {}", op.name(), fmt.name());
            let path = dir.join(format!("{}-{}-m{m}.svg", op.name(), fmt.name()));
            std::fs::write(&path, svg_plot(&title, &curves))?;
            files.push(path);
        }
    }
    Ok(files)
}

/// The loss kernels audited in format `T`: the fast kernels, the textbook loss and the original
/// Caffe layer's backward.
pub fn loss_kernels_f32() -> Vec<Box<dyn LossKernel<f32>>> {
    vec![
        Box::new(TextbookLoss::default()),
        Box::new(crate::zoo::CaffeLayer),
    ]
}

/// See [`loss_kernels_f32`].
pub fn loss_kernels_f64() -> Vec<Box<dyn LossKernel<f64>>> {
    vec![
        Box::new(TextbookLoss::default()),
        Box::new(crate::zoo::CaffeLayer),
    ]
}

/// The loss kernels audited in a 16-bit format, every operation in it: the textbook
/// loss and the original Caffe layer's backward (see [`kernels_narrow`]).
pub fn loss_kernels_narrow<T: ZooFloat>() -> Vec<Box<dyn LossKernel<T>>> {
    vec![
        Box::new(TextbookLoss::default()),
        Box::new(crate::zoo::CaffeLayer),
    ]
}

/// Runs the loss suite (generated batches, seed `seed`) over the loss kernels.
pub fn run_loss(formats: &[Format], seed: u64) -> Vec<LossReport> {
    let policy = LossPolicy::default();
    let mut out = Vec::new();
    for fmt in formats {
        match fmt {
            Format::F32 => out.extend(
                loss_kernels_f32()
                    .iter()
                    .map(|k| check_loss::<f32, _>(k.as_ref(), seed, 0, &policy)),
            ),
            Format::F64 => out.extend(
                loss_kernels_f64()
                    .iter()
                    .map(|k| check_loss::<f64, _>(k.as_ref(), seed, 0, &policy)),
            ),
            Format::F16 => out.extend(
                loss_kernels_narrow::<F16>()
                    .iter()
                    .map(|k| check_loss::<F16, _>(k.as_ref(), seed, 0, &policy)),
            ),
            Format::Bf16 => out.extend(
                loss_kernels_narrow::<Bf16>()
                    .iter()
                    .map(|k| check_loss::<Bf16, _>(k.as_ref(), seed, 0, &policy)),
            ),
        }
    }
    out
}

/// The loss accuracy table (Markdown): one row per kernel, format and output;
/// errors in scaled ulps relative to the allowance `k·m²·d` of [`LossPolicy`].
pub fn loss_table(reports: &[LossReport]) -> String {
    let mut s = String::from(
        "| kernel | format | output | batches | failures | worst error / allowance | worst batch |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in reports {
        for op in LossOp::ALL {
            let i = op as usize;
            let failures = r
                .scores
                .iter()
                .filter(|b| b.errors[i] > b.allowed[i])
                .count();
            let (ratio, worst) = r.worst_ratio(op);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.kernel,
                r.format.name(),
                op.name(),
                r.scores.len(),
                failures,
                fmt_err(ratio),
                worst.map_or("", |w| w.origin.as_str())
            );
        }
    }
    s
}
