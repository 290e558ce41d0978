use asoftmax_spec::audit::heads::run_heads;
use asoftmax_spec::conformance::GenConfig;
use asoftmax_spec::conformance::head_suite::{HeadOp, HeadPolicy, check_head};
use asoftmax_spec::zoo::heads::all_heads;

#[test]
fn explore() {
    let rows = run_heads();
    for r in rows.iter().filter(|r| r.formula.starts_with("ada") || r.formula.starts_with("mag") || r.formula.starts_with("curr")) {
        println!("{} {:?} {:?} mis {} ulps {} abs {:e} worst {:?}", r.formula, r.format, r.logit, r.misrounded, r.max_ulps, r.max_abs, r.worst);
    }
    fn suite<T: asoftmax_spec::zoo::ZooFloat>() {
        for f in all_heads::<T>() {
            for op in HeadOp::ALL {
                let r = check_head(f.as_ref(), op, &GenConfig::default(), &HeadPolicy::default());
                print!("{}", r.to_string().lines().take(2).collect::<Vec<_>>().join("\n"));
                println!();
            }
        }
    }
    suite::<f32>();
    suite::<f64>();
}
