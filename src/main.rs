use clap::Parser;
use mmviz::cli::commands;
use mmviz::cli::{Cli, Cmd};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match &cli.command {
        Some(Cmd::Gen(a)) => commands::gen(a),
        Some(Cmd::Residency(a)) => commands::residency(a),
        Some(Cmd::Evict(a)) => commands::evict(a),
        Some(Cmd::Run(a)) => mmviz::cli::run::run(a),
        Some(Cmd::Worker(a)) => {
            return match a.options() {
                Ok(o) => {
                    ExitCode::from(mmviz::workload::worker::child::main_with(&a.file, &o) as u8)
                }
                Err(e) => {
                    eprintln!("mmviz: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Cmd::Bench(a)) => mmviz::cli::bench::bench(a),
        Some(Cmd::Replay(a)) => mmviz::cli::replay::main(a),
        Some(Cmd::Lesson(a)) => match mmviz::cli::lesson::main(a) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Cmd::Tlb(a)) => mmviz::cli::tlb::command(a),
        Some(Cmd::Ipc(a)) => mmviz::workload::ipc::main(a.duration, a.rate, a.json),
        Some(Cmd::IpcChild(a)) => {
            return ExitCode::from(mmviz::workload::ipc::child_main(
                &a.role,
                &a.file,
                a.duration_ms,
                a.rate,
            ) as u8);
        }
        Some(Cmd::Watch(a)) => match mmviz::cli::watch::main(a) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Cmd::Completions(a)) => {
            // Generated into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            mmviz::cli::clidoc::completions(a.shell, &mut script);
            mmviz::outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(())
        }
        Some(Cmd::Manpage) => {
            let mut page = Vec::new();
            mmviz::cli::clidoc::manpage(&mut page).expect("writing to memory");
            mmviz::outln!("{}", String::from_utf8_lossy(&page).trim_end());
            Ok(())
        }
        Some(Cmd::Page(a)) => mmviz::cli::page::page(a),
        Some(Cmd::Attach(a)) => mmviz::cli::attach::attach(a),
        Some(Cmd::Exec(a)) => mmviz::cli::attach::exec(a),
        Some(Cmd::CompareChild(a)) => {
            return ExitCode::from(mmviz::cli::bench::compare_child(a) as u8);
        }
        None => match mmviz::cli::live::main(&cli.tui, Some(mmviz::cli::live::compare_for_tui)) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmviz: {}", mmviz::text::escape_controls(&e.msg));
            ExitCode::from(e.code)
        }
    }
}
