//! Prints the structured input a fuzz target decodes from a file (a crash artifact or a
//! corpus entry) and how long the target's check takes on it:
//! `cargo run --example fuzz_input --features fuzzing -- api_robustness fuzz/artifacts/api_robustness/crash-…`.

fn main() {
    #[cfg(feature = "fuzzing")]
    {
        use asoftmax_spec::fuzzing;
        let args: Vec<String> = std::env::args().collect();
        let [_, target, file] = &args[..] else {
            eprintln!("usage: fuzz_input TARGET FILE");
            std::process::exit(2);
        };
        let data = std::fs::read(file).expect("readable input file");
        let Some(text) = fuzzing::describe_input(target, &data) else {
            eprintln!("unknown target {target}");
            std::process::exit(2);
        };
        println!("{text}");
        let check: fn(&[u8]) = match target.as_str() {
            "fast_vs_oracle" => fuzzing::fast_vs_oracle,
            "loss_grad_vs_oracle" => fuzzing::loss_grad_vs_oracle,
            "api_robustness" => fuzzing::api_robustness,
            #[cfg(feature = "cli")]
            "jsonl_parsers" => fuzzing::jsonl_parsers,
            _ => {
                eprintln!("{target}: no check in this build");
                std::process::exit(2);
            }
        };
        let start = std::time::Instant::now();
        check(&data);
        println!("check passed in {:?}", start.elapsed());
    }
    #[cfg(not(feature = "fuzzing"))]
    eprintln!("build with --features fuzzing");
}
