//! `asoftmax-spec`: the command-line face of the oracle.

use asoftmax_spec::arith::Format;
use asoftmax_spec::cli::args::{name_parser, name_parser_of};
use asoftmax_spec::cli::op::Op;
use asoftmax_spec::cli::{check, eval, exhaustive, tensors, vectors};
use asoftmax_spec::conformance::loss_suite::Scheme;
use asoftmax_spec::head::{Fallback, Kind, Semantics};
use asoftmax_spec::loss::{Backward, Variant};
use asoftmax_spec::loss_filter::Tier;
use asoftmax_spec::names::Name;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{self, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The command-line tool's allocator: mimalloc, for Rust's allocations
/// (`#[global_allocator]`) and for GMP's and MPFR's (`mp_set_memory_functions`).
///
/// Every exact integer, fraction and MPFR float the oracle makes is a heap block: an
/// `eval` line of ψ allocates about a dozen, and glibc's `malloc`/`free` were about 13 %
/// of `eval`'s instructions (callgrind, `scripts/bench_eval.py`'s lines). The library
/// leaves the allocator to its users; only this binary chooses one.
mod allocator {
    use std::ffi::c_void;

    #[global_allocator]
    static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

    /// GMP's allocation: mimalloc's, aborting when it fails (as GMP's own allocator does).
    extern "C" fn alloc(size: usize) -> *mut c_void {
        // SAFETY: mi_malloc takes any size and returns a block of it or null.
        let p = unsafe { libmimalloc_sys::mi_malloc(size) };
        if p.is_null() {
            std::process::abort();
        }
        p
    }

    /// GMP's reallocation of a block from [`alloc`] (GMP passes the old size; mimalloc
    /// knows it).
    unsafe extern "C" fn realloc(p: *mut c_void, _old: usize, new: usize) -> *mut c_void {
        // SAFETY: `p` was returned by `alloc` or `realloc` (GMP's contract), which are mimalloc's.
        let q = unsafe { libmimalloc_sys::mi_realloc(p, new) };
        if q.is_null() {
            std::process::abort();
        }
        q
    }

    /// GMP's release of a block from [`alloc`] or [`realloc`].
    unsafe extern "C" fn free(p: *mut c_void, _size: usize) {
        // SAFETY: as for `realloc`.
        unsafe { libmimalloc_sys::mi_free(p) }
    }

    /// Routes GMP's (and so MPFR's) allocations to mimalloc. GMP requires this before any
    /// other GMP call, so `main` calls it first: no integer or float exists yet whose block
    /// another allocator made.
    pub fn route_gmp_to_mimalloc() {
        // SAFETY: called once, first thing in `main`, before any GMP or MPFR object exists.
        unsafe { gmp_mpfr_sys::gmp::set_memory_functions(Some(alloc), Some(realloc), Some(free)) }
    }
}

/// Arbitrary-precision reference values for the A-Softmax (SphereFace) loss.
#[derive(Parser)]
#[command(name = "asoftmax-spec", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The accuracy audit: run the conformance suite over the crate's fast kernels,
    /// the textbook recurrence and every published-formula variant (zoo), in f32
    /// and f64, and print the accuracy table (which variant is off, by how much, where).
    Audit {
        /// Margins: a single value ("4") or a range ("1..=8").
        #[arg(long, default_value = "1..=8")]
        m: String,
        /// Formats to audit.
        #[arg(long, value_parser = name_parser::<Format>(), value_delimiter = ',', default_value = "f32,f64")]
        dtype: Vec<Format>,
        /// Random inputs per (kernel, op, m), after the edge cases and sweeps.
        #[arg(long, default_value_t = 512)]
        random: usize,
        /// Seed of the random inputs.
        #[arg(long, default_value_t = 0x5eed_a50f_7a11)]
        seed: u64,
        /// Also write SVG plots of each variant's error against θ into this folder.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// The margin of the plots.
        #[arg(long, default_value_t = 4)]
        plot_m: u32,
    },
    /// Evaluate JSON Lines requests: one output line per input line, same order.
    ///
    /// Each line is an object like {"op":"psi","m":4,"cos":"0.3","prec":256,"id":1}.
    /// Ops: cos_m, psi, dpsi_dcos, dpsi_dtheta, loss, lambda, angular_margin, m_min.
    /// Numbers are JSON numbers (taken as the f64 they round to) or exact decimal /
    /// hex-float strings ("0.1", "0x1.8p-1"). A line that cannot be evaluated gives
    /// {"id":…,"line":N,"error":"…"}; the exit status is then 1.
    Eval {
        /// Input file; standard input when absent or "-".
        file: Option<PathBuf>,
    },
    /// Generate golden test vectors (JSON Lines on standard output): eval inputs
    /// representable in --dtype, with the oracle's outputs and a unique id.
    /// Same options and seed give byte-identical output.
    Vectors(VectorsArgs),
    /// Judge an implementation's RESULTS (JSON Lines {"id":…,"value":…[,"grad_x","grad_w"]})
    /// on a VECTORS file with the suite's metrics and tolerances. Exits 0 only when
    /// every vector has one result within tolerance and no line is malformed.
    /// VECTORS and RESULTS may be tensor directories (`vectors --out`): each case's
    /// loss.npy, grad_x.npy and grad_w.npy are judged the same way.
    Check(CheckArgs),
    /// The exhaustive tier: every f32 c in [-1, 1] (2,130,706,434 inputs) for each op and
    /// m, compared bit for bit with the certified correctly rounded value (a filter with a
    /// proven bound, MPFR where it cannot decide). Kernels: fast, textbook, every zoo
    /// formula, or a C kernel `float f(int m, float c)` as c:LIBRARY:SYMBOL (one --op).
    /// Exit 0 when nothing is misrounded, 1 when something is, 2 on an error.
    Exhaustive(ExhaustiveArgs),
    /// Combines `exhaustive` JSON summaries of disjoint shards into one report.
    Merge {
        /// Summary files (`exhaustive --out` or the state directory's files).
        files: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
    },
}

/// The options of `exhaustive`.
#[derive(Args)]
struct ExhaustiveArgs {
    /// Ops (cos_m, psi, dpsi_dcos).
    #[arg(long, value_delimiter = ',', default_value = "cos_m,psi,dpsi_dcos")]
    op: Vec<String>,
    /// Margins: a single value ("4") or a range ("1..=8"), at most 24.
    #[arg(long, default_value = "1..=8")]
    m: String,
    /// The kernels under test, comma-separated, checked in one pass: fast, textbook,
    /// a zoo formula's name, `zoo` (every zoo formula), or c:LIBRARY:SYMBOL alone.
    #[arg(long, default_value = "fast")]
    kernel: String,
    /// Run one shard "I/N" of the inputs (deterministic boundaries; for CI matrices
    /// and array jobs; combine the summaries with `merge`).
    #[arg(long, conflicts_with = "shards")]
    shard: Option<String>,
    /// Run all N shards in turn (default 256); with --state, finished shards are
    /// kept and skipped on a rerun, so an interrupted run resumes.
    #[arg(long)]
    shards: Option<u64>,
    /// Directory for finished shards' summaries (resume).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Also write the JSON summaries to this file (one line per kernel).
    #[arg(long)]
    out: Option<PathBuf>,
}

impl ExhaustiveArgs {
    /// The arguments as `cli::exhaustive` takes them.
    fn into_args(self) -> exhaustive::Args {
        exhaustive::Args {
            op: self.op,
            m: self.m,
            kernel: self.kernel,
            shard: self.shard,
            shards: self.shards,
            state: self.state,
            threads: self.threads,
            json: matches!(self.format, ReportFormat::Json),
            out: self.out,
        }
    }
}

/// The options of `vectors`.
#[derive(Args)]
struct VectorsArgs {
    /// Comma-separated ops.
    #[arg(long, value_parser = name_parser_of(&Op::VECTORS), default_value = "cos_m,psi,dpsi_dcos", value_delimiter = ',')]
    op: Vec<Op>,
    /// The float format of the inputs (and of the implementation under test).
    #[arg(long, value_parser = name_parser::<Format>(), default_value = "f32")]
    dtype: Format,
    /// Margins: a single value ("4") or a range ("1..=8", "1..9").
    #[arg(long, default_value = "1..=8")]
    m: String,
    /// Vectors per (op, m) for the scalar ops (edge cases first, then random);
    /// batches per m for loss.
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Loss: number of classes C.
    #[arg(long, default_value_t = 4)]
    classes: usize,
    /// Loss: feature dimension d.
    #[arg(long, default_value_t = 3)]
    dim: usize,
    /// Loss: batch size N.
    #[arg(long, default_value_t = 2)]
    batch: usize,
    /// Loss: annealing weight λ ≥ 0.
    #[arg(long, default_value_t = 0.0)]
    lambda: f64,
    /// Loss: logit scale s > 0.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Loss: logits variant (the JSON names; "a-softmax" and "l-softmax" are accepted too).
    #[arg(long, value_parser = name_parser::<Variant>(), default_value = "a_softmax")]
    variant: Variant,
    /// Loss: backward semantics (the JSON names; "detached-margin" is accepted too).
    #[arg(long, value_parser = name_parser::<Backward>(), default_value = "full")]
    backward: Backward,
    /// Write the loss vectors as NumPy .npy tensor files into this directory (with a
    /// manifest.json) instead of JSON Lines; needs --op loss.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Loss: precision scheme of the implementation under test ("autocast": f16 or bf16
    /// inputs, float32 accumulation, softmax, loss and results).
    #[arg(long, value_parser = name_parser::<Scheme>(), default_value = "native")]
    scheme: Scheme,
    /// Also write "f64_odd", the binary64 round-to-odd of every value.
    #[arg(long)]
    round_to_odd: bool,
    /// Loss tensor files (--out): "filter" decides each output in double words with a
    /// proven bound (MPFR for the few it cannot), "mpfr" runs the exact oracle on every
    /// output; the f32 and f64 arrays are the same bits.
    #[arg(long, value_parser = name_parser::<Tier>(), default_value = "filter")]
    tier: Tier,
    /// Loss: a head of the margin family (combined, arcface, cosface) with cosine
    /// logits, in place of --variant and --backward (which are then unused, as is --m
    /// for the loss: one group of --count batches); its parameters below. The heads on
    /// cosines (sphereface, sphereface_r, sphereface2, curricularface, adaface, magface)
    /// write cosine batches at the head suite's states (vectors_version 4; no parameters,
    /// --semantics chooses the backward).
    #[arg(long, value_parser = name_parser::<Kind>())]
    head: Option<Kind>,
    /// Head: the margin m of arcface (radians) or cosface, an exact decimal or hex float.
    #[arg(long)]
    head_m: Option<String>,
    /// Head (combined): the multiplicative margin m1 (default 1).
    #[arg(long)]
    m1: Option<String>,
    /// Head (combined): the additive angular margin m2 in radians (default 0).
    #[arg(long)]
    m2: Option<String>,
    /// Head (combined): the additive cosine margin m3 (default 0).
    #[arg(long)]
    m3: Option<String>,
    /// Head (combined, arcface): the fallback past m1θ + m2 = π (default none).
    #[arg(long, value_parser = name_parser::<Fallback>())]
    fallback: Option<Fallback>,
    /// Head: the gradient semantics (default analytic).
    #[arg(long, value_parser = name_parser::<Semantics>())]
    semantics: Option<Semantics>,
}

/// The arguments of `check`.
#[derive(Args)]
struct CheckArgs {
    /// The vectors file (from `asoftmax-spec vectors`), or a tensor directory (`--out`).
    vectors: PathBuf,
    /// The implementation's results (a directory for a tensor directory of vectors).
    results: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Override the ulp tolerance of every scalar op.
    #[arg(long)]
    max_ulps: Option<f64>,
    /// Override the scaled tolerance (per m²) of every scalar op.
    #[arg(long)]
    max_scaled: Option<f64>,
    /// Override the tolerance (per m²·d scaled ulps) of the loss and its gradients
    /// (the gradients keep their factor 1 + β·S/8 for balanced softmax at logit scale S).
    #[arg(long)]
    loss_tol: Option<f64>,
}

/// Exit 0 when nothing is misrounded, 1 when something is, 2 on an error.
fn exhaustive_exit(cmd: &str, result: Result<bool, String>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(cmd, &e),
    }
}

fn main() -> ExitCode {
    allocator::route_gmp_to_mimalloc();
    let cli = Cli::parse();
    match cli.command {
        Command::Audit {
            m,
            dtype,
            random,
            seed,
            plot,
            plot_m,
        } => run_audit(&m, &dtype, random, seed, plot.as_deref(), plot_m),
        Command::Eval { file } => run_eval(file),
        Command::Exhaustive(args) => {
            exhaustive_exit("exhaustive", exhaustive::command(args.into_args()))
        }
        Command::Merge { files, format } => exhaustive_exit(
            "merge",
            exhaustive::merge_command(&files, matches!(format, ReportFormat::Json)),
        ),
        Command::Vectors(args) => run_vectors(args),
        Command::Check(args) => run_check(args),
    }
}

impl VectorsArgs {
    /// The generator's options, or the message of an out-of-range argument.
    fn options(&self) -> Result<vectors::VectorsOptions, String> {
        let ms = vectors::parse_m_range(&self.m)?;
        if self.classes == 0 || self.dim == 0 || self.batch == 0 {
            return Err("--classes, --dim and --batch must be at least 1".into());
        }
        let (lambda, scale) = (self.lambda, self.scale);
        if !(lambda >= 0.0 && lambda.is_finite() && scale > 0.0 && scale.is_finite()) {
            return Err("--lambda must be finite and >= 0, --scale finite and > 0".into());
        }
        Ok(vectors::VectorsOptions {
            ops: self.op.clone(),
            dtype: self.dtype,
            ms,
            count: self.count,
            seed: self.seed,
            classes: self.classes,
            dim: self.dim,
            batch: self.batch,
            lambda,
            scale,
            variant: self.variant,
            backward: self.backward,
            scheme: self.scheme,
            round_to_odd: self.round_to_odd,
            tier: self.tier,
            head: self.head_option()?,
            cos_head: self.cos_head()?,
        })
    }

    /// A head on cosines (outside `Kind::FEATURES`): generated at its published states
    /// and bounds (no parameters taken; `--semantics` chooses the backward).
    fn cos_head(&self) -> Result<Option<(Kind, Semantics)>, String> {
        let Some(kind) = self.head.filter(|&k| vectors::takes_cosines(k)) else {
            return Ok(None);
        };
        let given = [&self.head_m, &self.m1, &self.m2, &self.m3]
            .iter()
            .any(|v| v.is_some())
            || self.fallback.is_some();
        if given {
            return Err(format!(
                "--head {}: a head on cosines is generated at its published states and bounds \
                 (the head suite's); --head-m, --m1, --m2, --m3 and --fallback are for combined, arcface and cosface",
                kind.name()
            ));
        }
        Ok(Some((kind, self.semantics.unwrap_or(Semantics::Analytic))))
    }

    /// The head's fields as a loss line carries them (`eval`'s names), read back by
    /// [`vectors::HeadOption::parse`], which rejects a parameter the head does not take.
    fn head_option(&self) -> Result<Option<vectors::HeadOption>, String> {
        let Some(kind) = self.head.filter(|&k| !vectors::takes_cosines(k)) else {
            if self.head.is_some() {
                return Ok(None);
            }
            let given = [&self.head_m, &self.m1, &self.m2, &self.m3]
                .iter()
                .any(|v| v.is_some())
                || self.fallback.is_some()
                || self.semantics.is_some();
            return if given {
                Err("--head-m, --m1, --m2, --m3, --fallback and --semantics need --head".into())
            } else {
                Ok(None)
            };
        };
        let mut fields = serde_json::Map::new();
        fields.insert("head".into(), kind.name().into());
        for (name, v) in [
            ("m", &self.head_m),
            ("m1", &self.m1),
            ("m2", &self.m2),
            ("m3", &self.m3),
        ] {
            if let Some(v) = v {
                fields.insert(name.into(), v.clone().into());
            }
        }
        if let Some(fb) = self.fallback {
            fields.insert("fallback".into(), fb.name().into());
        }
        let semantics = self.semantics.unwrap_or(Semantics::Analytic);
        fields.insert("semantics".into(), semantics.name().into());
        vectors::HeadOption::parse(fields).map(Some).map_err(|e| {
            format!(
                "--head {}: {}",
                kind.name(),
                e.replace("field \"m\"", "--head-m")
            )
        })
    }
}

/// `asoftmax-spec vectors`.
fn run_vectors(args: VectorsArgs) -> ExitCode {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => return fail("vectors", &e),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if tty {
            eprint!("\rvectors: {done}/{total} groups");
            if done == total {
                eprintln!();
            }
        }
    };
    let written = match &args.out {
        Some(dir) => tensors::generate(&opts, dir, &mut progress),
        None => vectors::generate(&opts, &mut out, &mut progress),
    };
    match written {
        Ok(_) => ExitCode::SUCCESS,
        // A closed pipe (`vectors … | head`): stop quietly, like other Unix tools.
        Err(e) if e.downcast_ref().is_some_and(is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => fail("vectors", &e.to_string()),
    }
}

/// `asoftmax-spec check`.
fn run_check(args: CheckArgs) -> ExitCode {
    let CheckArgs {
        vectors,
        results,
        format,
        max_ulps,
        max_scaled,
        loss_tol,
    } = args;
    let ov = check::Overrides {
        max_ulps,
        max_scaled,
        loss_tol,
    };
    let report = if vectors.is_dir() {
        match tensors::check_dirs(&vectors, &results, &ov) {
            Ok(r) => r,
            Err(e) => return fail("check", &e),
        }
    } else {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        match (read(&vectors), read(&results)) {
            (Ok(v), Ok(r)) => check::check(&v, &r, &ov),
            (Err(e), _) | (_, Err(e)) => return fail("check", &e),
        }
    };
    let mut out = io::stdout().lock();
    let written = match format {
        ReportFormat::Text => write!(out, "{}", report.text()),
        ReportFormat::Json => writeln!(out, "{}", report.json()),
    };
    match written.and_then(|()| out.flush()) {
        // A closed pipe only cuts the report short: the verdict stays the exit status.
        Ok(()) => {}
        Err(e) if is_broken_pipe(&e) => {}
        Err(e) => return fail("check", &format!("I/O error: {e}")),
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_audit(
    m: &str,
    dtypes: &[Format],
    random: usize,
    seed: u64,
    plot: Option<&Path>,
    plot_m: u32,
) -> ExitCode {
    use asoftmax_spec::audit;
    use asoftmax_spec::conformance::GenConfig;
    let ms = match vectors::parse_m_range(m) {
        Ok(r) if *r.end() <= 64 => r,
        Ok(_) => return fail("audit", "--m: the audit covers margins up to 64"),
        Err(e) => return fail("audit", &e),
    };
    let cfg = audit::AuditConfig {
        ms,
        formats: dtypes.to_vec(),
        inputs: GenConfig {
            random,
            seed,
            ..GenConfig::default()
        },
    };
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize, what: &str| {
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let bar = format!(
            "[{}{}] {done}/{total} {what}",
            "=".repeat(filled),
            " ".repeat(width - filled)
        );
        if tty {
            eprint!("\r\x1b[2K{bar}");
            if done == total {
                eprintln!();
            }
        } else {
            eprintln!("audit {bar}");
        }
    };
    let printed = print_audit(&mut io::stdout().lock(), &cfg, &mut progress, seed);
    match printed {
        Ok(()) => {}
        // A closed pipe (`audit | head`) ends the tables quietly; the plots are still written.
        Err(e) if is_broken_pipe(&e) => {}
        Err(e) => return fail("audit", &format!("I/O error: {e}")),
    }
    if let Some(dir) = plot {
        match audit::write_plots(dir, plot_m, 721) {
            Ok(files) => eprintln!("audit: wrote {} plots to {}", files.len(), dir.display()),
            Err(e) => {
                return fail(
                    "audit",
                    &format!("cannot write plots to {}: {e}", dir.display()),
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// Runs the audit and prints its tables; stops at the first failed write.
fn print_audit(
    out: &mut impl Write,
    cfg: &asoftmax_spec::audit::AuditConfig,
    progress: &mut dyn FnMut(usize, usize, &str),
    seed: u64,
) -> io::Result<()> {
    use asoftmax_spec::audit;
    let reports = audit::run(cfg, progress);
    writeln!(
        out,
        "## Scalar ops (ulps of the exact value; scaled ulps of the op's scale)\n"
    )?;
    writeln!(out, "{}", audit::table(&reports))?;
    out.flush()?;
    eprintln!("audit: loss kernels …");
    let loss_reports = audit::run_loss(&cfg.formats, seed);
    writeln!(
        out,
        "## Loss and gradients (scaled ulps relative to the allowance)\n"
    )?;
    writeln!(out, "{}", audit::loss_table(&loss_reports))?;
    writeln!(
        out,
        "## The margin family's published heads (target and non-target logits against the oracle)\n"
    )?;
    writeln!(
        out,
        "{}",
        audit::heads::head_table(&audit::heads::run_heads())
    )?;
    let mut failing: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{} {} {}", r.kernel, r.format.name(), r.op))
        .collect();
    failing.extend(
        loss_reports
            .iter()
            .filter(|r| !r.passed())
            .map(|r| format!("{} {} loss", r.kernel, r.format.name())),
    );
    writeln!(
        out,
        "{} of {} (kernel, format, op) combinations are outside the default tolerance{}{}",
        failing.len(),
        reports.len() + loss_reports.len(),
        if failing.is_empty() { "" } else { ": " },
        failing.join(", ")
    )?;
    out.flush()
}

/// A write to a closed pipe (the reader, e.g. `head`, has exited).
fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn fail(cmd: &str, msg: &str) -> ExitCode {
    eprintln!("asoftmax-spec {cmd}: {msg}");
    ExitCode::from(2)
}

fn run_eval(file: Option<PathBuf>) -> ExitCode {
    let stdout = BufWriter::new(std::io::stdout().lock());
    let result = match file.as_deref() {
        None => eval::eval_stream(std::io::stdin().lock(), stdout),
        Some(p) if p.as_os_str() == "-" => eval::eval_stream(std::io::stdin().lock(), stdout),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => eval::eval_stream(BufReader::new(f), stdout),
            Err(e) => return fail("eval", &format!("cannot open {}: {e}", p.display())),
        },
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("asoftmax-spec eval: {n} line(s) could not be evaluated");
            ExitCode::from(1)
        }
        // A closed pipe (`eval … | head`): stop quietly, like other Unix tools.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail("eval", &format!("I/O error: {e}")),
    }
}
