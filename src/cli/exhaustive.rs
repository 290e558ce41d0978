//! `asoftmax-spec exhaustive`: every `f32` input of the scalar ops, for the crate's fast
//! kernels, the published formulas (zoo), the textbook recurrence, or a user's C kernel
//! (`float f(int m, float c)` in a shared library); shards, a resumable state directory,
//! progress with rate and ETA, text and JSON summaries, and `merge`.
//!
//! The summary JSON (`"exhaustive_version":1`) is an interface:
//! `{"exhaustive_version":1,"kernel":…,"shards":["I/N",…],"seconds":…,"rows":[{"op":…,"m":…,
//! "checked":…,"misrounded":…,"max_ulp":…,"fallbacks":…,"worst":[{"c":hex,"got":hex,
//! "want":hex,"ulps":…},…]},…]}` with `f32` values as C99 hex floats.

use crate::arith::{hex_f32, parse_exact};
use crate::conformance::exhaustive::{self, Reference, Shard, Stats, Summary};
use crate::conformance::{ScalarKernel, ScalarOp};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The version of the summary format.
pub const VERSION: u64 = 1;

/// A user's kernel from a shared library: `float symbol(int m, float c)` for one op.
struct CKernel {
    name: String,
    op: ScalarOp,
    f: unsafe extern "C" fn(i32, f32) -> f32,
    // Keeps the library loaded while `f` is used.
    _lib: libloading::Library,
}

impl CKernel {
    /// Loads `symbol` from `path`.
    fn load(path: &str, symbol: &str, op: ScalarOp) -> Result<CKernel, String> {
        // SAFETY: loading a library runs its initialisers; the user names the library
        // to test, as with any plugin. The symbol's type is the documented C ABI.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {path}: {e}"))?;
        let f = unsafe { lib.get::<unsafe extern "C" fn(i32, f32) -> f32>(symbol.as_bytes()) }
            .map(|s| *s)
            .map_err(|e| format!("{path}: no symbol {symbol}: {e}"))?;
        Ok(CKernel {
            name: format!("c:{path}:{symbol}"),
            op,
            f,
            _lib: lib,
        })
    }

    fn call(&self, op: ScalarOp, m: u32, c: f32) -> f32 {
        if op != self.op {
            return f32::NAN;
        }
        // SAFETY: the documented signature `float f(int m, float c)`.
        unsafe { (self.f)(m as i32, c) }
    }
}

/// The kernels `--kernel` accepts by name: `fast`, `textbook` and every zoo formula.
pub fn kernel_names() -> Vec<String> {
    let mut v = vec!["fast".to_string(), "textbook".to_string()];
    v.extend(crate::zoo::all_f32().iter().map(|k| k.name()));
    v
}

/// Resolves `--kernel` to a maker of the kernel (one per worker thread): a name from
/// [`kernel_names`], or `c:LIBRARY:SYMBOL` (then `ops` must be exactly the one op the
/// symbol computes).
pub fn kernel(
    spec: &str,
    ops: &[ScalarOp],
) -> Result<Box<exhaustive::KernelMaker<'static>>, String> {
    if let Some(rest) = spec.strip_prefix("c:") {
        let (path, symbol) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("kernel {spec:?}: expected c:LIBRARY:SYMBOL"))?;
        let [op] = ops else {
            return Err(format!(
                "kernel {spec:?}: a C kernel computes one op; give exactly one --op"
            ));
        };
        let k = std::sync::Arc::new(CKernel::load(path, symbol, *op)?);
        return Ok(Box::new(move || Box::new(CRef(k.clone()))));
    }
    match spec {
        "fast" => Ok(Box::new(|| Box::new(crate::fast::Fast))),
        "textbook" => Ok(Box::new(|| Box::new(crate::conformance::Textbook))),
        _ if kernel_names().iter().any(|n| n == spec) => {
            let name = spec.to_string();
            Ok(Box::new(move || {
                crate::zoo::all_f32()
                    .into_iter()
                    .find(|k| k.name() == name)
                    .expect("a listed zoo kernel")
            }))
        }
        _ => Err(format!(
            "unknown kernel {spec:?} (expected {}, or c:LIBRARY:SYMBOL)",
            kernel_names().join(", ")
        )),
    }
}

/// A shared handle on a loaded C kernel.
struct CRef(std::sync::Arc<CKernel>);

impl ScalarKernel<f32> for CRef {
    fn name(&self) -> String {
        self.0.name.clone()
    }
    fn cos_m(&self, m: u32, c: f32) -> f32 {
        self.0.call(ScalarOp::CosM, m, c)
    }
    fn psi(&self, m: u32, c: f32) -> f32 {
        self.0.call(ScalarOp::Psi, m, c)
    }
    fn dpsi_dcos(&self, m: u32, c: f32) -> f32 {
        self.0.call(ScalarOp::DpsiDcos, m, c)
    }
}

/// Parses an op name (`cos_m`, `psi`, `dpsi_dcos`).
pub fn parse_op(s: &str) -> Result<ScalarOp, String> {
    ScalarOp::ALL
        .into_iter()
        .find(|o| o.name() == s)
        .ok_or_else(|| format!("unknown op {s:?} (expected cos_m, psi or dpsi_dcos)"))
}

/// Resolves a `--kernel` list: comma-separated names from [`kernel_names`], `zoo` for
/// every zoo formula, or one `c:LIBRARY:SYMBOL` alone. Kernels given together are
/// checked in one pass (each certified value computed once).
pub fn kernels(
    spec: &str,
    ops: &[ScalarOp],
) -> Result<Vec<(String, Box<exhaustive::KernelMaker<'static>>)>, String> {
    if spec.starts_with("c:") {
        return Ok(vec![(spec.to_string(), kernel(spec, ops)?)]);
    }
    let mut names = Vec::new();
    for part in spec.split(',').map(str::trim) {
        match part {
            "zoo" => names.extend(crate::zoo::all_f32().iter().map(|k| k.name())),
            "" => return Err(format!("kernel list {spec:?}: an empty name")),
            _ => names.push(part.to_string()),
        }
    }
    let mut out: Vec<(String, Box<exhaustive::KernelMaker<'static>>)> = Vec::new();
    for n in names {
        if out.iter().any(|(m, _)| *m == n) {
            return Err(format!("kernel list {spec:?}: {n} appears twice"));
        }
        let make = kernel(&n, ops)?;
        out.push((n, make));
    }
    Ok(out)
}

/// What one invocation runs.
pub struct Job {
    /// The kernel list as given (see [`kernels`]).
    pub kernel: String,
    /// Ops to check.
    pub ops: Vec<ScalarOp>,
    /// Margins.
    pub ms: Vec<u32>,
    /// The shards to run.
    pub shards: Vec<Shard>,
    /// Worker threads.
    pub threads: usize,
    /// Where finished shards are kept (resume), if anywhere.
    pub state: Option<PathBuf>,
}

/// A shard's summary file in the state directory.
fn state_file(dir: &Path, kernel: &str, s: Shard) -> PathBuf {
    let safe: String = kernel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{}-of-{}.json", s.index, s.count))
}

/// Runs the job (resuming from the state directory), printing progress to standard
/// error; returns one merged summary per kernel, in the order given.
pub fn run(job: &Job, stop: &AtomicBool) -> Result<Vec<Summary>, String> {
    let kernels = kernels(&job.kernel, &job.ops)?;
    let names: Vec<String> = kernels.iter().map(|(_, make)| make().name()).collect();
    let refs: Vec<Reference> = job
        .ms
        .iter()
        .map(|&m| Reference::new(m).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if let Some(dir) = &job.state {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut parts: Vec<Vec<Summary>> = vec![Vec::new(); kernels.len()];
    let inputs = |s: &Shard| (s.range().end - s.range().start) * refs.len() as u64;
    let total: u64 = job.shards.iter().map(inputs).sum();
    let rate = Rate {
        label: job.kernel.clone(),
        checks_per_input: (job.ops.len() * kernels.len()) as u64,
        total,
        start: Instant::now(),
    };
    let done = AtomicU64::new(0);
    for &shard in &job.shards {
        // Kernels whose summary of this shard is kept from an earlier run are skipped.
        let mut todo = Vec::new();
        for (k, (spec, _)) in kernels.iter().enumerate() {
            match kept(job.state.as_deref(), spec, shard)? {
                Some(s) => parts[k].push(s),
                None => todo.push(k),
            }
        }
        if todo.is_empty() {
            done.fetch_add(inputs(&shard), Ordering::Relaxed);
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            return Err("interrupted: finished shards are kept in the state directory".into());
        }
        let t0 = Instant::now();
        let makers: Vec<&exhaustive::KernelMaker<'static>> =
            todo.iter().map(|&k| &*kernels[k].1).collect();
        let rows = std::thread::scope(|s| {
            let worker =
                s.spawn(|| exhaustive::run(&makers, &job.ops, &refs, shard, job.threads, &done));
            while !worker.is_finished() {
                std::thread::sleep(Duration::from_millis(200));
                rate.show(done.load(Ordering::Relaxed), false);
            }
            worker
                .join()
                .map_err(|_| "a worker thread panicked".to_string())
        })?;
        let seconds = t0.elapsed().as_secs_f64();
        for (k, rows) in todo.into_iter().zip(rows) {
            let summary = Summary {
                kernel: names[k].clone(),
                shards: vec![shard],
                seconds,
                rows,
            };
            if let Some(dir) = &job.state {
                let f = state_file(dir, &kernels[k].0, shard);
                let text = to_json(&summary).to_string();
                std::fs::write(&f, text + "\n").map_err(|e| format!("{}: {e}", f.display()))?;
            }
            parts[k].push(summary);
        }
    }
    rate.show(done.load(Ordering::Relaxed), true);
    parts.iter().map(|p| Summary::merge(p)).collect()
}

/// The summary of `shard` kept in the state directory, if there is one.
fn kept(state: Option<&Path>, kernel: &str, shard: Shard) -> Result<Option<Summary>, String> {
    let Some(f) = state.map(|dir| state_file(dir, kernel, shard)) else {
        return Ok(None);
    };
    if !f.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
    from_json(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", f.display()))
}

/// The progress line of a run: fraction, rate in checks per second (inputs × ops ×
/// kernels), ETA.
struct Rate {
    label: String,
    checks_per_input: u64,
    total: u64,
    start: Instant,
}

impl Rate {
    /// Shows the line: on a terminal updated in place, otherwise a line every 30 s.
    fn show(&self, done: u64, last: bool) {
        static LAST: AtomicU64 = AtomicU64::new(0);
        let secs = self.start.elapsed().as_secs_f64();
        let tty = std::io::stderr().is_terminal();
        let now = secs as u64;
        if !last && !tty && now < LAST.load(Ordering::Relaxed) + 30 {
            return;
        }
        LAST.store(now, Ordering::Relaxed);
        let rate = done as f64 / secs.max(1e-9);
        let eta = (self.total.saturating_sub(done)) as f64 / rate.max(1e-9);
        let pct = 100.0 * done as f64 / self.total.max(1) as f64;
        let line = format!(
            "exhaustive {}: {pct:5.1}% of {} inputs·m, {:.1} M checks/s, elapsed {:.0} s, ETA {:.0} s",
            self.label,
            self.total,
            rate * self.checks_per_input as f64 / 1e6,
            secs,
            eta
        );
        let mut e = std::io::stderr();
        let _ = if tty {
            write!(e, "\r{line}{}", if last { "\n" } else { "" })
        } else {
            writeln!(e, "{line}")
        };
    }
}

fn stats_json(st: &Stats) -> Value {
    json!({
        "checked": st.checked,
        "misrounded": st.misrounded,
        "max_ulp": st.max_ulp,
        "fallbacks": st.fallbacks,
        "worst": st.worst.iter().map(|(c, got, want, ulps)| json!({
            "c": hex_f32(*c), "got": hex_f32(*got), "want": hex_f32(*want), "ulps": ulps,
        })).collect::<Vec<_>>(),
    })
}

/// The summary as JSON (see the module docs).
pub fn to_json(s: &Summary) -> Value {
    json!({
        "exhaustive_version": VERSION,
        "kernel": s.kernel,
        "shards": s.shards.iter().map(|sh| format!("{}/{}", sh.index, sh.count)).collect::<Vec<_>>(),
        "complete": s.complete(),
        "seconds": s.seconds,
        "rows": s.rows.iter().map(|(op, m, st)| {
            let mut v = stats_json(st);
            v["op"] = json!(op.name());
            v["m"] = json!(m);
            v
        }).collect::<Vec<_>>(),
    })
}

/// An `f32` as [`hex_f32`] writes it: a hex float (the sign of a zero kept), or `nan`,
/// `inf`, `-inf` (what a kernel under test may return).
fn f32_of(v: &Value, what: &str) -> Result<f32, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{what}: expected a hex-float string"))?;
    match s {
        "nan" => return Ok(f32::NAN),
        "inf" => return Ok(f32::INFINITY),
        "-inf" => return Ok(f32::NEG_INFINITY),
        _ => {}
    }
    let r = parse_exact(s).map_err(|e| format!("{what}: {e}"))?;
    let f = r.to_f32();
    if crate::arith::rational_from_f64(f64::from(f)).ok().as_ref() != Some(&r) {
        return Err(format!("{what}: {s} is not an f32"));
    }
    Ok(if f == 0.0 && s.starts_with('-') {
        -0.0
    } else {
        f
    })
}

/// The array `v`, or an error naming it.
fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("{what}: expected an array"))
}

/// One worst input `{"c","got","want","ulps"}` (`what` names it in errors).
fn worst_from_json(w: &Value, what: &str) -> Result<(f32, f32, f32, f64), String> {
    let at = |k: &str| f32_of(&w[k], &format!("{what}.{k}"));
    Ok((
        at("c")?,
        at("got")?,
        at("want")?,
        w["ulps"].as_f64().unwrap_or(f64::INFINITY),
    ))
}

/// One row `{"op","m","checked",…}` of a summary (`what` names it in errors).
fn row_from_json(r: &Value, what: &str) -> Result<(ScalarOp, u32, Stats), String> {
    let op = parse_op(r["op"].as_str().unwrap_or(""))?;
    let num = |k: &str| {
        r[k].as_u64()
            .ok_or_else(|| format!("{what}.{k}: expected a count"))
    };
    let m = u32::try_from(num("m")?).map_err(|e| format!("{what}.m: {e}"))?;
    let worst = array(&r["worst"], &format!("{what}.worst"))?
        .iter()
        .enumerate()
        .map(|(j, w)| worst_from_json(w, &format!("{what}.worst[{j}]")))
        .collect::<Result<_, _>>()?;
    let stats = Stats {
        checked: num("checked")?,
        misrounded: num("misrounded")?,
        max_ulp: r["max_ulp"].as_f64().unwrap_or(f64::INFINITY),
        worst,
        fallbacks: num("fallbacks")?,
    };
    Ok((op, m, stats))
}

/// Reads a summary written by [`to_json`] (version 1).
pub fn from_json(text: &str) -> Result<Summary, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v["exhaustive_version"] != json!(VERSION) {
        return Err(format!(
            "unsupported exhaustive_version {} (expected {VERSION})",
            v["exhaustive_version"]
        ));
    }
    let kernel = v["kernel"].as_str().ok_or("missing kernel")?.to_string();
    let shards = array(&v["shards"], "shards")?
        .iter()
        .map(|s| Shard::parse(s.as_str().unwrap_or("")))
        .collect::<Result<Vec<_>, _>>()?;
    let seconds = v["seconds"]
        .as_f64()
        .filter(|s| *s >= 0.0)
        .ok_or("seconds: expected a non-negative number")?;
    let rows = array(&v["rows"], "rows")?
        .iter()
        .enumerate()
        .map(|(i, r)| row_from_json(r, &format!("rows[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Summary {
        kernel,
        shards,
        seconds,
        rows,
    })
}

/// Reads summaries written one per line (what `--out` writes when several kernels are
/// checked together; a single summary is one line). Blank lines are skipped.
pub fn from_json_lines(text: &str) -> Result<Vec<Summary>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| from_json(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// The text report: one line per (op, m) and the worst inputs of failing rows.
pub fn report(s: &Summary) -> String {
    let mut out = format!(
        "exhaustive {}: shards {} ({}), {:.1} s\n",
        s.kernel,
        s.shards.len(),
        if s.complete() {
            "every f32 in [-1, 1]"
        } else {
            "partial"
        },
        s.seconds
    );
    out += "op         m      checked   misrounded    max ulp   fallbacks\n";
    for (op, m, st) in &s.rows {
        out += &format!(
            "{:<9} {:>2} {:>12} {:>12} {:>10.3} {:>11}\n",
            op.name(),
            m,
            st.checked,
            st.misrounded,
            st.max_ulp,
            st.fallbacks
        );
        for (c, got, want, ulps) in &st.worst {
            out += &format!(
                "    c = {} ({c:e}): got {} want {} ({ulps:.3} ulp)\n",
                hex_f32(*c),
                hex_f32(*got),
                hex_f32(*want)
            );
        }
    }
    out
}

/// The arguments of `asoftmax-spec exhaustive`, as parsed by the command line.
pub struct Args {
    /// `--op` names.
    pub op: Vec<String>,
    /// `--m`: a margin or a range.
    pub m: String,
    /// `--kernel` (see [`kernels`]).
    pub kernel: String,
    /// `--shard I/N`.
    pub shard: Option<String>,
    /// `--shards N` (default 256).
    pub shards: Option<u64>,
    /// `--state DIR`.
    pub state: Option<PathBuf>,
    /// `--threads` (default: all cores).
    pub threads: Option<usize>,
    /// The report as JSON Lines (one summary per kernel) instead of text.
    pub json: bool,
    /// `--out FILE`: the JSON summaries, one per line.
    pub out: Option<PathBuf>,
}

impl Args {
    /// The job these arguments ask for.
    pub fn job(self) -> Result<Job, String> {
        let ops = self
            .op
            .iter()
            .map(|o| parse_op(o))
            .collect::<Result<Vec<_>, _>>()?;
        let ms: Vec<u32> = super::vectors::parse_m_range(&self.m)?.collect();
        let shards = match (self.shard, self.shards) {
            (Some(s), _) => vec![Shard::parse(&s)?],
            (None, n) => {
                let count = n.unwrap_or(256);
                if count == 0 || count > exhaustive::TOTAL {
                    return Err(format!(
                        "--shards {count}: expected 1 to {}",
                        exhaustive::TOTAL
                    ));
                }
                (0..count).map(|index| Shard { index, count }).collect()
            }
        };
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(Job {
            kernel: self.kernel,
            ops,
            ms,
            shards,
            threads,
            state: self.state,
        })
    }
}

/// `asoftmax-spec exhaustive`: runs the job and reports; `Ok(true)` when nothing is
/// misrounded.
pub fn command(args: Args) -> Result<bool, String> {
    let (json, out) = (args.json, args.out.clone());
    let job = args.job()?;
    let stop = AtomicBool::new(false);
    let summaries = run(&job, &stop)?;
    write_report(&summaries, json, out.as_deref())
}

/// `asoftmax-spec merge`: combines the summaries in `files` (one or more per file, one
/// per line), kernel by kernel, and reports; `Ok(true)` when nothing is misrounded.
pub fn merge_command(files: &[PathBuf], json: bool) -> Result<bool, String> {
    let mut by_kernel: Vec<Vec<Summary>> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for s in from_json_lines(&text).map_err(|e| format!("{}: {e}", f.display()))? {
            match by_kernel.iter_mut().find(|g| g[0].kernel == s.kernel) {
                Some(g) => g.push(s),
                None => by_kernel.push(vec![s]),
            }
        }
    }
    if by_kernel.is_empty() {
        return Err("no summaries to merge".into());
    }
    let merged = by_kernel
        .iter()
        .map(|g| Summary::merge(g))
        .collect::<Result<Vec<_>, _>>()?;
    write_report(&merged, json, None)
}

/// Prints the summaries (text or JSON Lines) and writes their JSON Lines to `out`;
/// `Ok(true)` when nothing is misrounded. A closed standard output is not an error.
fn write_report(summaries: &[Summary], json: bool, out: Option<&Path>) -> Result<bool, String> {
    let lines: String = summaries
        .iter()
        .map(|s| to_json(s).to_string() + "\n")
        .collect();
    if let Some(f) = out {
        std::fs::write(f, &lines).map_err(|e| format!("cannot write {}: {e}", f.display()))?;
    }
    let text = if json {
        lines
    } else {
        summaries.iter().map(report).collect()
    };
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
    Ok(summaries
        .iter()
        .all(|s| s.rows.iter().all(|r| r.2.misrounded == 0)))
}
