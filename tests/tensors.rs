//! The tensor route: `vectors --op loss --out DIR` writes .npy files and a manifest,
//! and `check DIR RESULTS_DIR` judges them with the same metrics and report as the JSON
//! Lines route; malformed or missing files are problems naming the case and the file.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "asoftmax-spec-tensors-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const GEN: &[&str] = &[
    "vectors",
    "--op",
    "loss",
    "--dtype",
    "f32",
    "--m",
    "2..=4",
    "--count",
    "2",
    "--classes",
    "6",
    "--dim",
    "3",
    "--batch",
    "3",
    "--lambda",
    "5",
    "--scale",
    "16",
];

/// Results that are the oracle's own correctly rounded f32 outputs.
fn oracle_results(vec: &Path, res: &Path, manifest: &serde_json::Value) {
    for case in manifest["cases"].as_array().unwrap() {
        let dir = case["dir"].as_str().unwrap();
        std::fs::create_dir_all(res.join(dir)).unwrap();
        for stem in ["loss", "grad_x", "grad_w"] {
            let from = vec.join(dir).join(format!("{stem}_f32.npy"));
            std::fs::copy(from, res.join(dir).join(format!("{stem}.npy"))).unwrap();
        }
    }
}

/// A scratch directory with the tensor vectors of [`GEN`] in `vec/` and the oracle's
/// own results in `res/`, and the manifest.
fn generated(name: &str) -> (PathBuf, PathBuf, PathBuf, serde_json::Value) {
    let d = tmp(name);
    let (vec, res) = (d.join("vec"), d.join("res"));
    let mut args = GEN.to_vec();
    args.extend(["--out", vec.to_str().unwrap()]);
    assert!(bin(&args).status.success());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vec.join("manifest.json")).unwrap()).unwrap();
    oracle_results(&vec, &res, &manifest);
    (d, vec, res, manifest)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn tensor_route_reports_like_the_json_route() {
    let (d, vec, res, manifest) = generated("route");
    let v = vec.to_str().unwrap();
    assert_eq!(manifest["tensors_version"], 2);
    let cases = manifest["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    // f32 cases: each gradient's reference within 2^-17 of an f32 ulp.
    assert!(
        cases.iter().all(|c| c["reference_rel"] == "0x1p-41"),
        "{cases:?}"
    );
    assert_eq!(cases[0]["shapes"]["w"], serde_json::json!([6, 3]));

    // The JSON route on the same batches (same options, same generator).
    let json_vec = bin(GEN).stdout;
    let mut json_res = String::new();
    for line in String::from_utf8(json_vec.clone()).unwrap().lines() {
        let l: serde_json::Value = serde_json::from_str(line).unwrap();
        let pick = |g: &serde_json::Value| {
            let rows = g.as_array().unwrap().iter();
            rows.map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["f32"].clone())
                    .collect()
            })
            .collect::<Vec<Vec<serde_json::Value>>>()
        };
        let r = serde_json::json!({"id": l["id"], "value": l["f32"], "grad_x": pick(&l["grad_x"]), "grad_w": pick(&l["grad_w"])});
        json_res.push_str(&format!("{r}\n"));
        // The tensor files hold the same inputs and outputs as the JSON line.
        let case = cases.iter().find(|c| c["id"] == l["id"]).unwrap();
        assert_eq!(case["f64"], l["f64"]);
        assert_eq!(case["f32"], l["f32"]);
        // The filter's value is within 2^-70 of the oracle's 128-bit one.
        let num = |v: &serde_json::Value| -> f64 { v.as_str().unwrap().parse().unwrap() };
        let (a, b) = (num(&case["value"]), num(&l["value"]));
        assert!((a - b).abs() <= b.abs() * 1e-15, "{a} vs {b}");
    }
    let (jv, jr) = (d.join("v.jsonl"), d.join("r.jsonl"));
    std::fs::write(&jv, json_vec).unwrap();
    std::fs::write(&jr, json_res).unwrap();
    let r = res.to_str().unwrap();
    for fmt in ["text", "json"] {
        let tensor = bin(&["check", v, r, "--format", fmt]);
        let json = bin(&[
            "check",
            jv.to_str().unwrap(),
            jr.to_str().unwrap(),
            "--format",
            fmt,
        ]);
        assert!(tensor.status.success(), "{}", text(&tensor));
        assert_eq!(
            text(&tensor),
            text(&json),
            "the two routes report differently"
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `--tier mpfr` writes what the exact oracle gives: the manifest's values to 128 bits,
/// and the same f32 and f64 arrays as the filter, byte for byte.
#[test]
fn the_filter_and_the_exact_oracle_write_the_same_arrays() {
    let d = tmp("tiers");
    let dirs = [d.join("filter"), d.join("mpfr")];
    for (dir, tier) in dirs.iter().zip(["filter", "mpfr"]) {
        let mut args = GEN.to_vec();
        args.extend(["--out", dir.to_str().unwrap(), "--tier", tier]);
        assert!(bin(&args).status.success());
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(&dirs[1]).unwrap() {
        let case = entry.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        for stem in ["loss", "grad_x", "grad_w"] {
            for fmt in ["f64", "f32"] {
                let file = format!("{stem}_{fmt}.npy");
                let name = case.file_name().unwrap();
                let a = std::fs::read(dirs[0].join(name).join(&file)).unwrap();
                let b = std::fs::read(case.join(&file)).unwrap();
                assert!(
                    a == b,
                    "{}/{file} differs between the tiers",
                    name.to_string_lossy()
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 6 * 6);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_results_are_problems_and_the_rest_is_judged() {
    let (d, vec, res, manifest) = generated("bad");
    let v = vec.to_str().unwrap();
    let dirs: Vec<&str> = manifest["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dir"].as_str().unwrap())
        .collect();
    // Case 0: a truncated file; case 1: a missing result; case 2: a wrong shape (the
    // loss saved as grad_x); case 3: a wrong value (a gradient copied as f64 from
    // another case).
    let gw = res.join(dirs[0]).join("grad_w.npy");
    let bytes = std::fs::read(&gw).unwrap();
    std::fs::write(&gw, &bytes[..bytes.len() - 2]).unwrap();
    std::fs::remove_dir_all(res.join(dirs[1])).unwrap();
    std::fs::copy(
        res.join(dirs[2]).join("loss.npy"),
        res.join(dirs[2]).join("grad_x.npy"),
    )
    .unwrap();
    std::fs::copy(
        vec.join(dirs[4]).join("grad_x_f64.npy"),
        res.join(dirs[3]).join("grad_x.npy"),
    )
    .unwrap();
    let out = bin(&["check", v, res.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("grad_w.npy: the data is"), "{t}");
    assert!(
        t.contains(&format!("{}: no result: ", "loss/f32/m=2/00001")) || t.contains("no result"),
        "{t}"
    );
    assert!(t.contains("grad_x.npy: shape []"), "{t}");
    assert!(t.contains("grad_x f32: 3 cases, 1 failures"), "{t}");
    assert!(t.contains("loss f32: 3 cases, 0 failures"), "{t}");

    // A version-1 directory (the same layout) is still read, with the same report.
    let m = vec.join("manifest.json");
    let old = std::fs::read_to_string(&m).unwrap();
    let before = text(&bin(&["check", v, res.to_str().unwrap()]));
    std::fs::write(
        &m,
        old.replace("\"tensors_version\":2", "\"tensors_version\":1"),
    )
    .unwrap();
    let v1 = bin(&["check", v, res.to_str().unwrap()]);
    assert_eq!(text(&v1), before);

    // An incompatible manifest is an error (exit 2) that says what to do.
    std::fs::write(
        &m,
        old.replace("\"tensors_version\":2", "\"tensors_version\":7"),
    )
    .unwrap();
    let out = bin(&["check", v, res.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("tensors_version is 7"),
        "{}",
        text(&out)
    );

    // --out writes loss vectors only.
    let out = bin(&[
        "vectors",
        "--op",
        "psi,loss",
        "--out",
        d.join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--op loss"), "{}", text(&out));
    std::fs::remove_dir_all(&d).ok();
}
