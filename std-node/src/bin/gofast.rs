//! The `gofast` command.
//!
//! Exit codes: 0 success; 1 the command failed (the message says why and what to do); 2 the command
//! line was wrong (clap's usage error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gofast_node::demo::{self, Source};

#[derive(Parser)]
#[command(
    name = "gofast",
    version,
    about = "gofast: an encrypted, censorship-resistant peer-to-peer network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the core at work: identities, encrypted blocks, verification by non-readers, signed records.
    Demo {
        /// Encrypt this file (at most 256 MiB) instead of random data.
        #[arg(long, value_name = "PATH", conflicts_with = "size")]
        file: Option<PathBuf>,
        /// Bytes of random data to encrypt.
        #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
        size: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { file, size } => {
            let source = file.map_or(Source::Random(size), Source::File);
            demo::run(&source, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gofast: error: {e}");
            ExitCode::FAILURE
        }
    }
}
