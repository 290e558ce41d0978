//! The command line: one spelling of every name (the JSON one, with `-` for `_` as an
//! alias), and a closed standard output ends a command quietly.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asoftmax-spec"))
}

fn loss_vectors(extra: &[&str]) -> String {
    let out = bin()
        .args([
            "vectors", "--op", "loss", "--m", "2", "--count", "2", "--dtype", "f64",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn variant_and_backward_take_the_json_names_and_the_hyphenated_aliases() {
    let json_names = loss_vectors(&["--variant", "l_softmax", "--backward", "detached_margin"]);
    assert!(
        json_names.contains("\"variant\":\"l_softmax\""),
        "{json_names}"
    );
    assert!(json_names.contains("\"backward\":\"detached_margin\""));
    let aliases = loss_vectors(&["--variant", "l-softmax", "--backward", "detached-margin"]);
    assert_eq!(json_names, aliases);
    // The defaults are spelled as in JSON, and name the same as their aliases.
    let default = loss_vectors(&[]);
    assert!(
        default.contains("\"variant\":\"a_softmax\"") && default.contains("\"backward\":\"full\"")
    );
    assert_eq!(default, loss_vectors(&["--variant", "a-softmax"]));
    assert_eq!(
        default,
        loss_vectors(&["--variant", "a_softmax", "--backward", "full"])
    );
}

#[test]
fn the_values_copied_from_a_vectors_file_work_on_the_command_line() {
    // Every name a vectors line carries is accepted back by the flag of the same name.
    let first = loss_vectors(&["--variant", "l_softmax"]);
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let out = bin()
        .args(["vectors", "--m", "2", "--count", "2"])
        .args(["--op", v["op"].as_str().unwrap()])
        .args(["--dtype", v["dtype"].as_str().unwrap()])
        .args(["--variant", v["variant"].as_str().unwrap()])
        .args(["--backward", v["backward"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), first);
}

#[test]
fn unknown_names_list_the_accepted_ones() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["vectors", "--variant", "sphereface"],
            "unknown variant \"sphereface\" (expected \"a_softmax\" or \"l_softmax\")",
        ),
        (
            &["vectors", "--backward", "detached"],
            "unknown backward \"detached\" (expected \"full\" or \"detached_margin\")",
        ),
        (
            &["vectors", "--dtype", "f8"],
            "unknown dtype \"f8\" (expected one of: f32, f64, f16, bf16)",
        ),
        (
            &["vectors", "--op", "psi,psy"],
            "unknown op \"psy\" (expected one of: cos_m, psi, dpsi_dcos, loss)",
        ),
        (
            &["vectors", "--op", "dpsi_dtheta"],
            "op \"dpsi_dtheta\" is not accepted here (expected one of: cos_m, psi, dpsi_dcos, loss)",
        ),
    ];
    for (args, expect) in cases {
        let out = bin().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // The help lists the canonical names.
    let out = bin().args(["vectors", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("[default: a_softmax] [possible values: a_softmax, l_softmax]"),
        "{help}"
    );
    assert!(
        help.contains("[possible values: full, detached_margin]"),
        "{help}"
    );
}

/// Runs the command, reads `lines` lines of its output (0: none), closes the pipe, and
/// returns the exit status and standard error.
fn read_then_close(cmd: &mut Command, lines: usize) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        for _ in 0..lines {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0);
        }
    } // the read end of the pipe is closed here, as `head` does when it exits
    let done = child.wait_with_output().unwrap();
    (done.status.code(), String::from_utf8(done.stderr).unwrap())
}

#[test]
fn eval_piped_into_head_stops_quietly() {
    // Far more output than a pipe holds, so that the writes after the first line fail.
    let line = "{\"op\":\"cos_m\",\"m\":3,\"cos\":\"0.5\",\"prec\":16}\n";
    let dir = std::env::temp_dir().join(format!("asoftmax-spec-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("many.jsonl");
    std::fs::write(&input, line.repeat(20_000)).unwrap();
    for lines in [1, 0] {
        let (code, err) = read_then_close(bin().arg("eval").arg(&input), lines);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(err, "", "nothing on stderr");
    }
    // The shipped cases, as in `eval examples/cases.jsonl | head -1`.
    let cases = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cases.jsonl");
    let (code, err) = read_then_close(bin().args(["eval", cases]), 1);
    assert_eq!((code, err.as_str()), (Some(0), ""));
}

#[test]
fn vectors_piped_into_head_stops_quietly() {
    let (code, err) = read_then_close(
        bin().args([
            "vectors", "--m", "1..=8", "--count", "200", "--dtype", "f64",
        ]),
        1,
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn audit_piped_into_head_stops_quietly() {
    let (code, err) = read_then_close(
        bin().args(["audit", "--m", "1", "--random", "1", "--dtype", "f64"]),
        1,
    );
    assert_eq!(code, Some(0), "{err}");
    // Only the progress lines (stderr is not a terminal), no error or panic.
    assert!(
        err.lines()
            .all(|l| l.starts_with("audit [") || l == "audit: loss kernels …"),
        "unexpected stderr: {err}"
    );
}

#[test]
fn check_with_a_closed_pipe_is_quiet_and_keeps_its_verdict() {
    let dir = std::env::temp_dir().join(format!("asoftmax-spec-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let v = loss_vectors(&[]);
    let vp = dir.join("v.jsonl");
    std::fs::write(&vp, &v).unwrap();
    // No results at all: two missing results, a failing check.
    let rp = dir.join("r-empty.jsonl");
    std::fs::write(&rp, "").unwrap();
    let (code, err) = read_then_close(bin().arg("check").arg(&vp).arg(&rp), 0);
    assert_eq!(
        code,
        Some(1),
        "a closed pipe does not turn a FAIL into a pass: {err}"
    );
    assert_eq!(err, "");
}
