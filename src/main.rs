//! `asoftmax-spec`: the command-line face of the oracle.

use asoftmax_spec::cli::eval;
use clap::{Parser, Subcommand};
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arbitrary-precision reference values for the A-Softmax (SphereFace) loss.
#[derive(Parser)]
#[command(name = "asoftmax-spec", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate JSON Lines requests: one output line per input line, same order.
    ///
    /// Each line is an object like {"op":"psi","m":4,"cos":"0.3","prec":256,"id":1}.
    /// Ops: cos_m, psi, dpsi_dcos, dpsi_dtheta. Numbers are JSON numbers (taken as
    /// the f64 they round to) or exact decimal / hex-float strings ("0.1", "0x1.8p-1").
    /// A line that cannot be evaluated gives {"id":…,"line":N,"error":"…"}; the
    /// exit status is then 1.
    Eval {
        /// Input file; standard input when absent or "-".
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Eval { file } => run_eval(file),
    }
}

fn run_eval(file: Option<PathBuf>) -> ExitCode {
    let stdout = BufWriter::new(std::io::stdout().lock());
    let result = match file.as_deref() {
        None => eval::eval_stream(std::io::stdin().lock(), stdout),
        Some(p) if p.as_os_str() == "-" => eval::eval_stream(std::io::stdin().lock(), stdout),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => eval::eval_stream(BufReader::new(f), stdout),
            Err(e) => {
                eprintln!("asoftmax-spec eval: cannot open {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("asoftmax-spec eval: {n} line(s) could not be evaluated");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("asoftmax-spec eval: I/O error: {e}");
            ExitCode::from(2)
        }
    }
}
