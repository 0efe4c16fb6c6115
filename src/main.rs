use clap::Parser;
use mmviz::cli::{Cli, Cmd};
use mmviz::commands;
use mmviz::error::AppError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match &cli.command {
        Some(Cmd::Gen(a)) => commands::gen(a),
        Some(Cmd::Residency(a)) => commands::residency(a),
        Some(Cmd::Evict(a)) => commands::evict(a),
        Some(Cmd::Run(_)) | Some(Cmd::Bench(_)) | Some(Cmd::Worker(_)) | None => {
            Err(AppError::runtime("not implemented yet"))
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmviz: {e}");
            ExitCode::from(e.code)
        }
    }
}
