//! The exhaustive tier through the command line: a shard for the fast kernels, and a
//! user's C kernel (`float f(int m, float c)`) built here with the system C compiler —
//! a correctly rounded one passes a shard, a broken one fails it with the input named.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_asoftmax-spec")
}

/// Builds `src` into a shared library in a fresh directory, or `None` without a C compiler.
fn build_c(name: &str, src: &str) -> Option<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("asoftmax-exhaustive-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let lib = dir.join(format!("lib{name}.so"));
    let status = Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&c)
        .status()
        .ok()?;
    status.success().then_some(lib)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// ψ for m = 2 in C: on branch 0 (c ≥ 0) 2c² − 1, on branch 1 −2c² − 1, evaluated in
/// double and rounded once. 2c² is exact in double (48 bits) and the sum is exact or, for
/// 2c² < 2⁻⁵, a multiple of 2⁻⁵³ that no f32 midpoint is within 2⁻⁵⁴ of: correctly rounded.
const GOOD: &str = "float psi2(int m, float c) {\n  double c2 = 2.0 * (double)c * (double)c;\n  (void)m;\n  return (float)(c >= 0 ? c2 - 1.0 : -c2 - 1.0);\n}\n";
/// The same in float: two roundings.
const BAD: &str = "float psi2(int m, float c) {\n  float c2 = 2.0f * c * c;\n  (void)m;\n  return c >= 0 ? c2 - 1.0f : -c2 - 1.0f;\n}\n";

fn c_kernel(lib: &Path) -> String {
    format!("c:{}:psi2", lib.display())
}

#[test]
fn a_correct_c_kernel_passes_a_shard_and_a_broken_one_fails_it() {
    let (Some(good), Some(bad)) = (build_c("good", GOOD), build_c("bad", BAD)) else {
        eprintln!("no C compiler: skipped");
        return;
    };
    let args = |k: &str| {
        vec![
            "exhaustive".into(),
            "--op".into(),
            "psi".into(),
            "--m".into(),
            "2".into(),
            "--shard".into(),
            "1018/2048".into(),
            "--kernel".into(),
            k.to_string(),
        ]
    };
    let g = args(&c_kernel(&good));
    let (code, out, err) = run(&g.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("psi        2") && out.contains(" 0 "), "{out}");
    let b = args(&c_kernel(&bad));
    let (code, out, _) = run(&b.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "{out}");
    // The worst input is named with its hex float, the value got and the one wanted.
    assert!(
        out.contains("c = 0x") && out.contains("got ") && out.contains("want "),
        "{out}"
    );
    // A C kernel computes one op.
    let (code, _, err) = run(&[
        "exhaustive",
        "--m",
        "2",
        "--shard",
        "0/4096",
        "--kernel",
        &c_kernel(&good),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("one --op"), "{err}");
}

#[test]
fn fast_kernels_pass_a_shard_and_summaries_merge() {
    let dir =
        std::env::temp_dir().join(format!("asoftmax-exhaustive-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.to_str().unwrap();
    // Two of 8192 shards, through the state directory (a rerun resumes: nothing to do).
    for shard in ["5000/8192", "5001/8192"] {
        let (code, out, err) = run(&[
            "exhaustive",
            "--m",
            "1..=8",
            "--shard",
            shard,
            "--state",
            state,
        ]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    assert_eq!(files.len(), 2);
    let mut args = vec!["merge", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exhaustive_version"], 1);
    assert_eq!(v["complete"], false);
    assert_eq!(v["rows"].as_array().unwrap().len(), 24);
    let per_shard = 2_130_706_434u64 / 8192;
    for r in v["rows"].as_array().unwrap() {
        let checked = r["checked"].as_u64().unwrap();
        assert!(
            checked == 2 * per_shard || checked == 2 * per_shard + 1,
            "{r}"
        );
        assert_eq!(r["misrounded"], 0, "{r}");
    }
    // Merging a shard twice is an error.
    let (code, _, err) = run(&["merge", &files[0], &files[0]]);
    assert_eq!(code, 2);
    assert!(err.contains("twice"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kernels checked together share one pass: one summary per kernel (JSON Lines), each
/// the same as when the kernel is checked alone; `zoo` names every published formula,
/// a kernel is checked only at the margins it supports, and `merge` regroups by kernel.
#[test]
fn kernels_checked_together_report_as_when_checked_alone() {
    let together = |kernel: &str, m: &str| {
        let (code, out, err) = run(&[
            "exhaustive",
            "--m",
            m,
            "--shard",
            "65535/65536",
            "--kernel",
            kernel,
            "--format",
            "json",
        ]);
        assert!(code == 0 || code == 1, "{err}");
        out.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["seconds"] = serde_json::json!(0);
                v
            })
            .collect::<Vec<_>>()
    };
    let zoo = together("zoo", "4..=5");
    let names: Vec<&str> = zoo.iter().map(|v| v["kernel"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"caffe-sign-trick") && names.contains(&"taylor-cos-x9"));
    for v in &zoo {
        let name = v["kernel"].as_str().unwrap();
        assert_eq!(together(name, "4..=5"), vec![v.clone()], "{name}");
        let ms: Vec<u64> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["m"].as_u64().unwrap())
            .collect();
        // The original Caffe layer has m ≤ 4 only.
        let want = if name == "caffe-sign-trick" {
            vec![4; 3]
        } else {
            vec![4, 4, 4, 5, 5, 5]
        };
        assert_eq!(ms, want, "{name}");
    }
    // The ε-clamp is caught at c = −1: ψ frozen on the band.
    let clamp = zoo
        .iter()
        .find(|v| v["kernel"] == "acos-clamp-1e-5")
        .unwrap();
    assert!(
        clamp["rows"][1]["misrounded"].as_u64().unwrap() > 0,
        "{clamp}"
    );
    // Summaries of several kernels in one file are merged kernel by kernel.
    let dir =
        std::env::temp_dir().join(format!("asoftmax-exhaustive-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("two.jsonl");
    let (code, _, err) = run(&[
        "exhaustive",
        "--m",
        "2",
        "--shard",
        "0/65536",
        "--kernel",
        "fast,textbook",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let (_, out, err) = run(&["merge", "--format", "json", f.to_str().unwrap()]);
    assert_eq!(out.lines().count(), 2, "{out}\n{err}");
    let (code, _, err) = run(&["exhaustive", "--kernel", "fast,nope", "--shard", "0/65536"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown kernel \"nope\""), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The committed full runs (`docs/exhaustive/`, rendered into the book by `gen_docs`) are
/// current: each spot shard recorded beside them (`docs/exhaustive/spot/`, written by
/// the same command with `--shard`) gives the same rows when rerun now. A change of a
/// kernel or of the certifier makes them differ: rerun the commands in
/// `docs/exhaustive/README.md`.
#[test]
fn committed_runs_are_current_on_their_spot_shards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/exhaustive");
    let strip = |l: &str| {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["seconds"] = serde_json::json!(0);
        v
    };
    let mut spots = 0;
    for e in std::fs::read_dir(root.join("spot")).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let want: Vec<serde_json::Value> = text.lines().map(strip).collect();
        let kernels: Vec<&str> = want.iter().map(|v| v["kernel"].as_str().unwrap()).collect();
        let rows = want[0]["rows"].as_array().unwrap();
        let ms: Vec<u64> = rows.iter().map(|r| r["m"].as_u64().unwrap()).collect();
        let (lo, hi) = (ms.iter().min().unwrap(), ms.iter().max().unwrap());
        // The ops in the order of the first margin's rows (the order they were given in).
        let ops: Vec<&str> = rows
            .iter()
            .take_while(|r| r["m"] == rows[0]["m"])
            .map(|r| r["op"].as_str().unwrap())
            .collect();
        let shards = want[0]["shards"].as_array().unwrap();
        assert_eq!(
            shards.len(),
            1,
            "{}: one shard per spot file",
            path.display()
        );
        let (code, out, err) = run(&[
            "exhaustive",
            "--kernel",
            &kernels.join(","),
            "--m",
            &format!("{lo}..={hi}"),
            "--op",
            &ops.join(","),
            "--shard",
            shards[0].as_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(code == 0 || code == 1, "{err}");
        let got: Vec<serde_json::Value> = out.lines().map(strip).collect();
        assert!(
            got == want,
            "{} is stale: the kernels or the certifier changed; rerun the commands of \
             docs/exhaustive/README.md",
            path.display()
        );
        spots += 1;
    }
    assert!(spots >= 2, "spot shards of the fast and the zoo runs");
}

/// A malformed summary is an error that names the file, the line and the field.
#[test]
fn merge_names_what_is_wrong_in_a_summary() {
    let dir = std::env::temp_dir().join(format!("asoftmax-exhaustive-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.jsonl");
    let good = r#"{"exhaustive_version":1,"kernel":"fast","shards":["0/2"],"seconds":1,"rows":[{"op":"psi","m":4,"checked":5,"misrounded":0,"max_ulp":0,"fallbacks":0,"worst":[]}]}"#;
    for (bad, want) in [
        (
            good.replace("\"checked\":5", "\"checked\":-5"),
            "line 2: rows[0].checked: expected a count",
        ),
        (
            good.replace("\"worst\":[]", "\"worst\":[{\"c\":\"0x1p-200\"}]"),
            "rows[0].worst[0].c",
        ),
        (
            good.replace("\"op\":\"psi\"", "\"op\":\"psy\""),
            "unknown op \"psy\"",
        ),
        (
            good.replace("\"seconds\":1", "\"seconds\":\"x\""),
            "seconds: expected",
        ),
        (
            good.replace("\"exhaustive_version\":1", "\"exhaustive_version\":9"),
            "unsupported exhaustive_version 9",
        ),
    ] {
        std::fs::write(&f, format!("{good}\n{bad}\n")).unwrap();
        let (code, _, err) = run(&["merge", f.to_str().unwrap()]);
        assert_eq!(code, 2, "{bad}");
        assert!(
            err.contains("bad.jsonl") && err.contains(want),
            "{want}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a kernel under test returns is kept through a summary's JSON: NaN, infinities
/// and the sign of a zero.
#[test]
fn summaries_keep_nan_infinities_and_signed_zeros() {
    let dir = std::env::temp_dir().join(format!("asoftmax-exhaustive-nan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("s.json");
    let worst = r#"[{"c":"0x1p+0","got":"nan","want":"0x1p+4","ulps":null},{"c":"-0x1p+0","got":"-inf","want":"0x1p+4","ulps":null},{"c":"0x1p-3","got":"-0x0p+0","want":"0x0p+0","ulps":0}]"#;
    let line = format!(
        r#"{{"exhaustive_version":1,"kernel":"k","shards":["0/2"],"seconds":1,"rows":[{{"op":"dpsi_dcos","m":4,"checked":5,"misrounded":3,"max_ulp":null,"fallbacks":0,"worst":{worst}}}]}}"#
    );
    std::fs::write(&f, line + "\n").unwrap();
    let (code, out, err) = run(&["merge", "--format", "json", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let got: Vec<&str> = v["rows"][0]["worst"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["got"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["nan", "-inf", "-0x0p+0"]);
    let _ = std::fs::remove_dir_all(&dir);
}
