//! `lineup`: the binary. A thin CLI over the library crates (see the workspace README).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lineup",
    version,
    about = "Linear HLS channels from HLS VODs, carried on to viewers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on embedded defaults.
    Demo,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("lineup demo: no services are built yet (see README.md).");
            Ok(())
        }
    }
}
