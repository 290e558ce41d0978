//! `eval` loss lines on cosines (`"cos"`) for every head of the margin family: every head
//! answers with `grad_cos` (and MagFace with `grad_a`), the documented defaults are the
//! ones applied, the combined heads agree with their features-and-weights lines, and bad
//! lines are line-numbered errors while the rest of the batch is evaluated.
#![cfg(feature = "cli")]

mod common;

use serde_json::Value;

fn eval(input: &str) -> (i32, Vec<Value>) {
    let out = common::run_with_stdin(&["eval"], input.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), lines)
}

const COS: &str = r#""cos":[["0.5","0.25","-0.5"],["0.1","0.2","0.3"]],"y":[0,2]"#;

/// One line per head, with the state it needs.
fn lines() -> Vec<(&'static str, String)> {
    let l = |head: &str, extra: &str| {
        format!(r#"{{"op":"loss","head":"{head}"{extra},{COS},"scale":"4","grad":true}}"#)
    };
    vec![
        ("combined", l("combined", r#","m1":"1","m2":"0.5""#)),
        ("arcface", l("arcface", r#","m":"0.5","fallback":"linear""#)),
        ("cosface", l("cosface", r#","m":"0.35""#)),
        ("sphereface", l("sphereface", "")),
        ("sphereface_r", l("sphereface_r", r#","version":"v2""#)),
        ("curricularface", l("curricularface", r#","t":"0.1""#)),
        (
            "adaface",
            l("adaface", r#","norm":["20","30"],"mean":"22","std":"5""#),
        ),
        ("magface", l("magface", r#","a":["20","50"]"#)),
        (
            "sphereface2",
            format!(
                r#"{{"op":"loss","head":"sphereface2","b":"-10","margin":"a",{COS},"grad":true}}"#
            ),
        ),
    ]
}

#[test]
fn every_head_has_a_loss_line() {
    let all = lines();
    let text: String = all.iter().map(|(_, l)| format!("{l}\n")).collect();
    let (code, out) = eval(&text);
    assert_eq!(code, 0, "{out:?}");
    for ((name, _), o) in all.iter().zip(&out) {
        assert!(o["value"].is_string(), "{name}: {o}");
        let g = o["grad_cos"].as_array().expect("grad_cos");
        assert_eq!(g.len(), 2, "{name}");
        assert!(g.iter().all(|r| r.as_array().unwrap().len() == 3), "{name}");
        assert!(g[0][0]["f64"].is_string(), "{name}");
        assert_eq!(o.get("grad_a").is_some(), *name == "magface", "{name}: {o}");
        assert!(o.get("grad_x").is_none(), "{name}");
    }
}

#[test]
fn documented_defaults_are_applied() {
    let pairs = [
        (r#""head":"sphereface""#, r#""head":"sphereface","m":"1.5""#),
        (
            r#""head":"sphereface_r","version":"v1""#,
            r#""head":"sphereface_r","version":"v1","m":"1.5""#,
        ),
        (
            r#""head":"curricularface","t":"0.2""#,
            r#""head":"curricularface","t":"0.2","m":"0.5""#,
        ),
        (
            r#""head":"adaface","norm":["20","30"],"mean":"22","std":"5""#,
            r#""head":"adaface","norm":["20","30"],"mean":"22","std":"5","m":"0.4","h":"0.333","eps":"0.001""#,
        ),
        (
            r#""head":"magface","a":["20","50"]"#,
            r#""head":"magface","a":["20","50"],"l_a":"10","u_a":"110","l_m":"0.45","u_m":"0.8","fallback":"easy","lambda_g":"35""#,
        ),
        (
            r#""head":"sphereface2","b":"-10""#,
            r#""head":"sphereface2","b":"-10","margin":"c","t":3,"m":"0.4","r":"40","alpha":"0.7","lw":"50""#,
        ),
    ];
    let mut text = String::new();
    for (short, long) in pairs {
        for head in [short, long] {
            text += &format!(r#"{{"op":"loss",{head},{COS},"grad":true,"semantics":"analytic"}}"#);
            text += "\n";
        }
    }
    let (code, out) = eval(&text);
    assert_eq!(code, 0, "{out:?}");
    for pair in out.chunks(2) {
        assert_eq!(pair[0]["value"], pair[1]["value"]);
        assert_eq!(pair[0]["grad_cos"], pair[1]["grad_cos"]);
    }
    // A changed parameter changes the result (the parameter is read).
    let (_, o) = eval(&format!(
        r#"{{"op":"loss","head":"sphereface","m":"1.75",{COS}}}"#
    ));
    assert_ne!(o[0]["value"], out[0]["value"]);
}

/// `x = (3, 4)` and class rows of norms 1, 5, 2: the cosines are 0.6, 0 and −0.8, and
/// the `x`/`w` line and the cosine line give the same correctly rounded loss.
#[test]
fn combined_heads_agree_with_their_features_lines() {
    let xw = r#""x":[["3","4"]],"w":[["1","0"],["-4","3"],["0","-2"]],"y":[1]"#;
    let cos = r#""cos":[["0.6","0","-0.8"]],"y":[1]"#;
    for head in [
        r#""head":"arcface","m":"0.5","fallback":"linear""#,
        r#""head":"cosface","m":"0.35""#,
        r#""head":"combined","m1":"1.5","m2":"0.25","m3":"0.2","fallback":"clamp_pi""#,
    ] {
        let text = format!(
            "{{\"op\":\"loss\",{head},{xw},\"scale\":\"3\"}}\n{{\"op\":\"loss\",{head},{cos},\"scale\":\"3\"}}\n"
        );
        let (code, out) = eval(&text);
        assert_eq!(code, 0, "{out:?}");
        assert_eq!(out[0]["value"], out[1]["value"], "{head}");
        assert_eq!(out[0]["f64"], out[1]["f64"], "{head}");
    }
}

#[test]
fn bad_lines_are_errors_and_the_batch_goes_on() {
    let bad = [
        (r#""head":"sphereface_r""#, "missing field \"version\""),
        (r#""head":"curricularface""#, "missing field \"t\""),
        (
            r#""head":"curricularface","t":"0","t_prev":"0""#,
            "exactly one of \"t\" or \"t_prev\"",
        ),
        (r#""head":"sphereface2""#, "missing field \"b\""),
        (
            r#""head":"adaface","norm":["20"],"mean":"22","std":"5""#,
            "field \"norm\" has 1 entries for 2 rows",
        ),
        (r#""head":"magface""#, "missing field \"a\""),
        (
            r#""head":"sphereface2","b":"-10","scale":"2""#,
            "unknown field \"scale\"",
        ),
        (
            r#""head":"sphereface_r","version":"v3""#,
            "unknown version \"v3\"",
        ),
        (
            r#""head":"arcfce""#,
            "expected one of: combined, arcface, cosface, sphereface, sphereface_r, sphereface2, curricularface, adaface, magface",
        ),
    ];
    let mut text = String::new();
    for (head, _) in &bad {
        text += &format!("{{\"op\":\"loss\",{head},{COS}}}\n");
    }
    text += &format!("{{\"op\":\"loss\",\"head\":\"sphereface\",{COS}}}\n");
    text +=
        r#"{"op":"loss","head":"sphereface","x":[["1","0"]],"w":[["1","0"],["0","1"]],"y":[0]}"#;
    text += "\n";
    let (code, out) = eval(&text);
    assert_eq!(code, 1);
    assert_eq!(out.len(), bad.len() + 2);
    for (i, (_, want)) in bad.iter().enumerate() {
        let e = out[i]["error"].as_str().unwrap_or("");
        assert!(e.starts_with(&format!("line {}: ", i + 1)), "{e}");
        assert!(e.contains(want), "line {}: {e}", i + 1);
    }
    assert!(out[bad.len()]["value"].is_string());
    let e = out[bad.len() + 1]["error"].as_str().unwrap();
    assert!(e.contains("takes cosines"), "{e}");
    // A gradient that does not exist: ArcFace at c_y = 1; the value alone is answered.
    let (_, o) = eval(
        "{\"op\":\"loss\",\"head\":\"arcface\",\"m\":\"0.5\",\"cos\":[[\"1\",\"0\"]],\"y\":[0],\"grad\":true}\n\
         {\"op\":\"loss\",\"head\":\"arcface\",\"m\":\"0.5\",\"cos\":[[\"1\",\"0\"]],\"y\":[0]}\n",
    );
    assert!(o[0]["error"].as_str().unwrap().contains("slope +inf"));
    assert!(o[1]["value"].is_string());
}

/// CurricularFace's `t_prev`: the published forward first updates its buffer,
/// `t = 0.01·mean(c_y) + 0.99·t_prev`; with the targets 0.5 and 0.3 and `t_prev = 0.2`,
/// `t = 0.004 + 0.198 = 0.202`.
#[test]
fn curricularface_applies_the_update_from_t_prev() {
    let text = format!(
        "{{\"op\":\"loss\",\"head\":\"curricularface\",\"t_prev\":\"0.2\",{COS},\"grad\":true}}\n\
         {{\"op\":\"loss\",\"head\":\"curricularface\",\"t\":\"0.202\",{COS},\"grad\":true}}\n\
         {{\"op\":\"loss\",\"head\":\"curricularface\",\"t\":\"0.2\",{COS},\"grad\":true}}\n"
    );
    let (code, out) = eval(&text);
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out[0]["value"], out[1]["value"]);
    assert_eq!(out[0]["grad_cos"], out[1]["grad_cos"]);
    assert_ne!(out[0]["grad_cos"], out[2]["grad_cos"]);
}
