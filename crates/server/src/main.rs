use std::process::ExitCode;

use clap::Parser;
use lanyard::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.load_config()?;
    lanyard::logging::init(&config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(cli::run(cli.command, config, &mut out, &mut err))
}
