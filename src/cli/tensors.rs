//! Loss vectors and results as tensor files: `vectors --op loss --out DIR` and
//! `check VECTORS_DIR RESULTS_DIR`, for batches too large for a JSON line.
//!
//! **Why `.npy`.** Every array library reads and writes it (`numpy.load`, `torch.from_numpy`,
//! `jax.numpy.load`, Julia's NPZ, C++ cnpy), it holds one array per file with nothing but
//! a short text header (so this crate reads and writes it in [`super::npy`], without a
//! dependency), and a file can be checked by eye with `python -c "import numpy; …"`.
//! safetensors keeps several named tensors in one file with a JSON header, but it is a
//! format of model weights: it has no 0-d arrays in common readers, needs its own package
//! in Python, and a bundle of one case's arrays is just as well a directory.
//!
//! **Layout.** `DIR/manifest.json` (`"tensors_version":2`) lists the cases; each case
//! `"dir"` holds, C order, little-endian:
//!
//! | file | dtype | shape | contents |
//! | --- | --- | --- | --- |
//! | `x.npy`, `w.npy` | the case's `dtype` (`<f4`/`<f8`) | `N×d`, `C×d` | inputs |
//! | `y.npy` | `<i8` | `N` | labels |
//! | `loss_f64.npy`, `loss_f32.npy` | `<f8`, `<f4` | `()` | the loss, correctly rounded |
//! | `grad_x_f64.npy`, `grad_x_f32.npy` | `<f8`, `<f4` | `N×d` | `∂L/∂X`, correctly rounded |
//! | `grad_w_f64.npy`, `grad_w_f32.npy` | `<f8`, `<f4` | `C×d` | `∂L/∂W`, correctly rounded |
//! | `loss_f64_lo.npy`, `grad_x_f64_lo.npy`, `grad_w_f64_lo.npy` | `<f8` | as above | low parts: `hi + lo` is the reference below |
//!
//! `hi + lo` (an `_f64` array plus its `_lo`) is the reference `check` measures against,
//! as the JSON route measures against the 128-bit `value`: the loss's within `2⁻⁷⁰` of
//! the value, each gradient's within the case's `"reference_rel"` of it, `2⁻¹⁷` of an ulp
//! of the case's dtype (`2⁻⁷⁰` for `f64`, `2⁻⁴¹` for `f32`; [`reference_rel`]), so that
//! an error reported in ulps of the dtype is within `2⁻¹⁷` ulp of the true error. (The
//! exact tier's references are closer, about `2⁻¹²⁰`.) The `_f64` and `_f32` arrays are
//! correctly rounded whatever the reference's accuracy. The manifest entry of a case
//! carries its id, `dir`, `op`, `dtype`, `variant`, `m`, `lambda`, `scale` (hex floats in
//! `dtype`), `backward`, `prec`, `reference_rel` (a hex float; version 2),
//! `origin`, the sizes `n`, `classes`, `dim`, every file's `shapes`, and the loss's
//! `value`/`f64`/`f32` as in a vectors line.
//!
//! An implementation under test writes `RESULTS_DIR/<dir>/loss.npy` (one element),
//! `grad_x.npy` (`N×d`) and `grad_w.npy` (`C×d`), as `f4` or `f8`; `check` rounds them to
//! the case's `dtype` and judges them with the JSON route's metrics, tolerances and
//! report ([`super::check`]). A missing or malformed file is a problem naming the case
//! and the file; the other cases are still judged.

use super::check::{CheckReport, Overrides, Problem, policies};
use super::json::{Fields, approx_fields};
use super::npy::{self, Array, Data};
use super::op::Op;
use super::vectors::{self, VECTOR_PREC, VectorsOptions, hex};
use crate::arith::{Approx, Format, par, rational_from_f64};
use crate::conformance::loss_suite::{Expected, Scheme, spec_of};
use crate::conformance::{Batch, FloatFormat};
use crate::loss::{Backward, Variant};
use crate::loss_filter::{REFERENCE_REL, Rounded, Tier, certify_for, reference_rel};
use crate::names::Name;
use rug::{Float, Rational};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The version of the tensor layout written; `check` reads it and every version in
/// [`TENSORS_READ`]. Version 2 states each case's `"reference_rel"`: how close the
/// reference `f64 + lo` of a gradient is to the value (version 1 did not say; it was
/// `2⁻⁷⁰`).
pub const TENSORS_VERSION: u32 = 2;

/// The tensor layout versions `check` reads (the layout is the same; 2 adds a field).
pub const TENSORS_READ: [u32; 2] = [1, 2];

/// The manifest's file name in a tensor directory.
pub const MANIFEST: &str = "manifest.json";

/// The file stems of the three outputs: the loss, `∂L/∂X`, `∂L/∂W`.
const OUTPUTS: [&str; 3] = ["loss", "grad_x", "grad_w"];

/// Writes the loss vectors of `o` (its ops must be `loss` alone) into `dir` (created if
/// needed); `progress(done, total)` after each margin. Returns the number of cases.
pub fn generate(
    o: &VectorsOptions,
    dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<usize, Box<dyn std::error::Error>> {
    if o.ops != [Op::Loss] {
        return Err("--out writes loss vectors only (tensor files): give --op loss".into());
    }
    if o.head.is_some() || o.cos_head.is_some() {
        return Err("--out writes A-Softmax/L-Softmax tensor files: a --head's vectors use the JSON Lines route".into());
    }
    if !matches!(o.dtype, Format::F32 | Format::F64) || o.scheme != Scheme::Native {
        return Err(format!(
            "--out writes f32 and f64 tensor files of the native scheme (dtype {}, scheme {}: \
             use the JSON Lines route)",
            o.dtype.name(),
            o.scheme.name()
        )
        .into());
    }
    let mkdir = |d: &Path| {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))
    };
    mkdir(dir)?;
    let margins: Vec<u32> = o.ms.clone().filter(|&m| m >= 1).collect();
    let mut cases = Vec::new();
    for (done, &m) in margins.iter().enumerate() {
        let entries = match o.dtype {
            Format::F32 => margin_cases::<f32>(o, m, dir, &mkdir),
            Format::F64 | Format::F16 | Format::Bf16 => margin_cases::<f64>(o, m, dir, &mkdir),
        };
        for e in entries {
            cases.push(e?);
        }
        progress(done + 1, margins.len());
    }
    // One case per line: small, readable and diff-friendly.
    let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
    let manifest = format!(
        "{{\"tensors_version\":{TENSORS_VERSION},\"generator\":{},\"cases\":[\n{}\n]}}\n",
        json!(format!(
            "asoftmax-spec {} vectors",
            env!("CARGO_PKG_VERSION")
        )),
        lines.join(",\n")
    );
    let path = dir.join(MANIFEST);
    std::fs::write(&path, manifest).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(cases.len())
}

/// The cases of margin `m`: the oracle run and the files written in parallel, the
/// manifest entries returned in order.
fn margin_cases<T: FloatFormat>(
    o: &VectorsOptions,
    m: u32,
    dir: &Path,
    mkdir: &(dyn Fn(&Path) -> Result<(), String> + Sync),
) -> Vec<Result<Value, String>> {
    par::map(vectors::loss_cases::<T>(o, m), |(i, case)| {
        let b = &case.batch;
        let Oracle {
            loss_fields,
            outputs,
            refined,
        } = oracle(b, o.tier, o.dtype).map_err(|e| e.to_string())?;
        let name = format!("loss-{}-m{m}-{i:05}", o.dtype.name());
        if let Some(k) = refined {
            eprintln!(
                "{name}: {} outputs, {k} left undecided by the filter's first tier{}",
                outputs.len(),
                if k > 0 {
                    " (decided by the second tier or the exact oracle)"
                } else {
                    ""
                }
            );
        }
        let sub = dir.join(&name);
        mkdir(&sub)?;
        let put = |file: String, a: Array| npy::write(&sub.join(file), &a);
        let (nd, cd) = (vec![b.n, b.dim], vec![b.classes, b.dim]);
        put("x.npy".into(), input_array(&b.x, nd.clone()))?;
        put("w.npy".into(), input_array(&b.w, cd.clone()))?;
        let labels = b.y.iter().map(|&l| l as i64).collect();
        put(
            "y.npy".into(),
            Array {
                shape: vec![b.n],
                data: Data::I64(labels),
            },
        )?;
        let mut rest = outputs.as_slice();
        for (stem, shape) in OUTPUTS.iter().zip([vec![], nd.clone(), cd.clone()]) {
            let (vals, tail) = rest.split_at(shape.iter().product());
            rest = tail;
            let arr = |data| Array {
                shape: shape.clone(),
                data,
            };
            put(
                format!("{stem}_f64.npy"),
                arr(Data::F64(vals.iter().map(|r| r.f64).collect())),
            )?;
            put(
                format!("{stem}_f32.npy"),
                arr(Data::F32(vals.iter().map(|r| r.f32).collect())),
            )?;
            put(
                format!("{stem}_f64_lo.npy"),
                arr(Data::F64(vals.iter().map(|r| r.lo).collect())),
            )?;
        }
        let mut entry = Map::new();
        entry.insert("id".into(), json!(vectors::loss_id(o, m, i)));
        entry.insert("dir".into(), json!(name));
        entry.insert("op".into(), json!(Op::Loss.name()));
        entry.insert("dtype".into(), json!(o.dtype.name()));
        entry.insert("variant".into(), json!(b.variant.name()));
        entry.insert("m".into(), json!(m));
        entry.insert("lambda".into(), json!(hex(b.lambda)));
        entry.insert("scale".into(), json!(hex(b.scale)));
        entry.insert("backward".into(), json!(b.backward.name()));
        entry.insert("prec".into(), json!(VECTOR_PREC));
        let rel = match o.tier {
            Tier::Filter => reference_rel(o.dtype),
            Tier::Mpfr => REFERENCE_REL,
        };
        entry.insert("reference_rel".into(), json!(hex(rel)));
        entry.insert("origin".into(), json!(case.origin));
        entry.insert("n".into(), json!(b.n));
        entry.insert("classes".into(), json!(b.classes));
        entry.insert("dim".into(), json!(b.dim));
        entry.insert(
            "shapes".into(),
            json!({"x": nd, "w": cd, "y": [b.n], "loss": [], "grad_x": nd, "grad_w": cd}),
        );
        entry.extend(loss_fields);
        Ok(Value::Object(entry))
    })
}

/// What [`oracle`] gives for one case.
struct Oracle {
    /// The manifest's fields of the loss.
    loss_fields: Map<String, Value>,
    /// Every output in order: the loss, `∂L/∂X`, `∂L/∂W` row-major.
    outputs: Vec<Rounded>,
    /// How many the filter's first tier left undecided (`None` without the filter).
    refined: Option<usize>,
}

/// The oracle's outputs of batch `b` and the manifest's fields of the loss: by the exact oracle ([`Tier::Mpfr`]: `value` to
/// [`VECTOR_PREC`] bits and every format), or by the filter ([`Tier::Filter`]: the same
/// `f64` and `f32` bits, `value` from `f64 + lo`, within `2⁻⁷⁰` of the loss, each
/// gradient's `f64 + lo` within [`reference_rel`]`(dtype)` of it).
fn oracle<T: FloatFormat>(b: &Batch<T>, tier: Tier, dtype: Format) -> Result<Oracle, crate::Error> {
    // The filter computes A-Softmax/L-Softmax logits; a head batch goes to the exact oracle.
    if tier == Tier::Mpfr || b.head.is_some() {
        let res = crate::loss::loss(&spec_of(b)?, true, VECTOR_PREC)?;
        let flat = |g: Option<Vec<Vec<Approx>>>| g.into_iter().flatten().flatten();
        let fields = approx_fields(&res.loss, false);
        let all = std::iter::once(res.loss)
            .chain(flat(res.grad_x))
            .chain(flat(res.grad_w))
            .map(|a| Rounded::of_approx(&a))
            .collect();
        return Ok(Oracle {
            loss_fields: fields,
            outputs: all,
            refined: None,
        });
    }
    let c = b
        .with_floats(|fb| certify_for(fb, Tier::Filter, dtype))
        .expect("head batches took the exact route above")?;
    let value = Float::with_val(128, c.loss.f64) + c.loss.lo;
    let mut fields = Map::new();
    fields.insert("value".into(), json!(value.to_string_radix(10, Some(22))));
    fields.insert(
        "f64".into(),
        json!(crate::arith::hex(c.loss.f64, Format::F64)),
    );
    let f32 = f64::from(c.loss.f32);
    fields.insert("f32".into(), json!(crate::arith::hex(f32, Format::F32)));
    let all = std::iter::once(c.loss)
        .chain(c.grad_x)
        .chain(c.grad_w)
        .collect();
    let refined = (!c.exact_tier || c.undecided > 0).then_some(c.undecided);
    Ok(Oracle {
        loss_fields: fields,
        outputs: all,
        refined,
    })
}

/// An input matrix in its format.
fn input_array<T: FloatFormat>(v: &[T], shape: Vec<usize>) -> Array {
    let data = match T::FORMAT {
        Format::F32 => Data::F32(v.iter().map(|t| t.to_f64() as f32).collect()),
        // Only f32 and f64 cases are written (`generate`).
        Format::F64 | Format::F16 | Format::Bf16 => {
            Data::F64(v.iter().map(|t| t.to_f64()).collect())
        }
    };
    Array { shape, data }
}

/// A loss case read from a tensor directory.
struct Case {
    id: String,
    dir: String,
    dtype: Format,
    input: String,
    batch: Batch<f64>,
    exp: Expected,
}

/// Checks the results in `results` against the loss vectors in `vectors` (two
/// directories; see the module docs). An unreadable or incompatible manifest is an
/// error; a problem with one case is reported with the case, and the other cases are
/// still judged.
pub fn check_dirs(vectors: &Path, results: &Path, ov: &Overrides) -> Result<CheckReport, String> {
    let path = vectors.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let manifest: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    let version = manifest.get("tensors_version");
    let known = |v: u64| TENSORS_READ.iter().any(|&k| u64::from(k) == v);
    if !version.and_then(Value::as_u64).is_some_and(known) {
        return Err(format!(
            "{}: incompatible tensor directory: tensors_version is {}, this asoftmax-spec reads \
             versions {TENSORS_READ:?} (regenerate it with this version's `asoftmax-spec vectors --out`)",
            path.display(),
            version.map_or("missing".to_string(), Value::to_string)
        ));
    }
    let cases = manifest
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no \"cases\" array", path.display()))?;
    let (_, loss_policy) = policies(ov);
    let judged = par::map(cases.iter().enumerate().collect(), |(k, entry)| {
        let mut one = CheckReport::default();
        let problem = |file, id: Option<&str>, what| Problem {
            file,
            line: 0,
            id: id.map(str::to_string),
            what,
        };
        let case = match read_case(entry, vectors) {
            Ok(c) => c,
            Err(what) => {
                let id = entry.get("id").and_then(Value::as_str);
                let what = format!("manifest case {}: {what}", k + 1);
                one.problems.push(problem("vectors", id, what));
                return one;
            }
        };
        match read_results(&case, &results.join(&case.dir)) {
            Ok((loss, gx, gw)) => one.judge_loss(
                (&case.id, &case.input, case.dtype, Scheme::Native),
                &case.exp,
                &case.batch,
                (loss, &gx, &gw),
                &loss_policy,
            ),
            Err(what) => one.problems.push(problem("results", Some(&case.id), what)),
        }
        one
    });
    let mut report = CheckReport::default();
    judged.into_iter().for_each(|one| report.absorb(one));
    Ok(report)
}

/// Reads a manifest entry and its case's files.
fn read_case(entry: &Value, root: &Path) -> Result<Case, String> {
    let obj = entry.as_object().ok_or("expected an object")?;
    let mut f = Fields::new(obj);
    let id = f.string("id")?.to_string();
    let dir = f.string("dir")?.to_string();
    if dir.is_empty() || dir.contains(['/', '\\']) || dir == ".." || dir == "." {
        return Err(format!("\"dir\" must be one directory name, got \"{dir}\""));
    }
    Op::parse_vectors_op(f.string("op")?).and_then(|op| {
        (op == Op::Loss)
            .then_some(())
            .ok_or("a tensor directory holds loss cases only".into())
    })?;
    let dtype: Format = f.name("dtype")?;
    if !matches!(dtype, Format::F32 | Format::F64) {
        return Err(format!(
            "dtype {}: tensor files are f32 or f64 (use the JSON Lines route)",
            dtype.name()
        ));
    }
    let variant = f.name_or("variant", Variant::ASoftmax)?;
    let backward = f.name_or("backward", Backward::Full)?;
    let m = super::eval::integer_m(&mut f, 1)?;
    let lambda = f.number_or("lambda", Rational::new())?.to_f64();
    let scale = f.number_or("scale", Rational::from(1))?.to_f64();
    f.u32_or("prec", VECTOR_PREC)?;
    // Version 2: how close each gradient's reference is; informative (the reference is
    // what the metrics use either way), but it must be a number in (0, 1).
    if let Some(rel) = f
        .has("reference_rel")
        .then(|| f.number("reference_rel"))
        .transpose()?
    {
        if !(rel > 0 && rel < 1) {
            return Err(format!(
                "\"reference_rel\" must lie in (0, 1), got {}",
                rel.to_f64()
            ));
        }
    }
    let origin = f.string_or("origin", "")?.to_string();
    let size = |f: &mut Fields, name| f.u32_or(name, 0).map(|v| v as usize);
    let (n, classes, dim) = (
        size(&mut f, "n")?,
        size(&mut f, "classes")?,
        size(&mut f, "dim")?,
    );
    for name in ["shapes", "value", "f64", "f32"] {
        f.raw(name);
    }
    f.finish()?;
    let case_dir = root.join(&dir);
    let read = |file: &str| npy::read(&case_dir.join(file));
    let shaped = |file: &str, shape: &[usize]| -> Result<Array, String> {
        let a = read(file)?;
        if a.shape != shape {
            return Err(format!(
                "{}: shape {:?}, expected {shape:?}",
                case_dir.join(file).display(),
                a.shape
            ));
        }
        Ok(a)
    };
    let (nd, cd) = ([n, dim], [classes, dim]);
    let x = shaped("x.npy", &nd)?.floats()?;
    let w = shaped("w.npy", &cd)?.floats()?;
    let y = shaped("y.npy", &[n])?.indices()?;
    if n == 0 || classes == 0 || dim == 0 || y.iter().any(|&l| l >= classes) {
        return Err(format!(
            "malformed case: N = {n}, C = {classes}, d = {dim}, labels {y:?} (expected sizes ≥ 1 and labels below C)"
        ));
    }
    let reference = |stem: &str, shape: &[usize]| -> Result<Vec<Rational>, String> {
        let hi = shaped(&format!("{stem}_f64.npy"), shape)?.floats()?;
        let lo = shaped(&format!("{stem}_f64_lo.npy"), shape)?.floats()?;
        hi.iter()
            .zip(&lo)
            .map(|(&h, &l)| {
                Ok(
                    rational_from_f64(h).map_err(|e| format!("{stem}_f64.npy: {e}"))?
                        + rational_from_f64(l).map_err(|e| format!("{stem}_f64_lo.npy: {e}"))?,
                )
            })
            .collect()
    };
    let loss = reference("loss", &[])?
        .pop()
        .ok_or("loss_f64.npy is empty")?;
    let exp = Expected {
        loss,
        grad_x: reference("grad_x", &nd)?,
        grad_w: reference("grad_w", &cd)?,
    };
    let input = format!("loss N={n} C={classes} d={dim} m={m} ({origin})");
    let batch = Batch {
        n,
        classes,
        dim,
        x,
        w,
        y,
        m,
        lambda,
        scale,
        variant,
        backward,
        head: None,
    };
    Ok(Case {
        id,
        dir,
        dtype,
        input,
        batch,
        exp,
    })
}

/// The implementation's loss and gradients for `case` from `dir`, rounded to its dtype.
fn read_results(case: &Case, dir: &Path) -> Result<(f64, Vec<f64>, Vec<f64>), String> {
    if !dir.is_dir() {
        return Err(format!("no result: {} is not a directory", dir.display()));
    }
    let b = &case.batch;
    let round = |v: Vec<f64>| -> Vec<f64> {
        v.into_iter()
            .map(|x| crate::arith::round_f64_to(x, case.dtype))
            .collect()
    };
    let read = |stem: &str, shape: &[usize]| -> Result<Vec<f64>, String> {
        let path = dir.join(format!("{stem}.npy"));
        let a = npy::read(&path)?;
        let fits = a.shape == shape || (shape.is_empty() && a.shape == [1]);
        if !fits {
            return Err(format!(
                "{}: shape {:?}, expected {shape:?}",
                path.display(),
                a.shape
            ));
        }
        a.floats()
            .map(round)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let loss = read("loss", &[])?[0];
    Ok((
        loss,
        read("grad_x", &[b.n, b.dim])?,
        read("grad_w", &[b.classes, b.dim])?,
    ))
}
