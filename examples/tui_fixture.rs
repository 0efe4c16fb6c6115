//! The TUI fed with the fixed test snapshot: try the screen, keys and mouse without a
//! worker. Commands show up as the footer message. `cargo run --example tui_fixture`

use mmviz::session::fixture;
use mmviz::session::snapshot::Command;
use mmviz::tui;
use std::sync::mpsc;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let (snap_tx, snap_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
    std::thread::spawn(move || {
        let mut s = fixture::fixture_snapshot();
        loop {
            while let Ok(cmd) = cmd_rx.try_recv() {
                match cmd {
                    Command::SetView {
                        start_page,
                        end_page,
                        cells,
                    } => s.grid = fixture::fixture_grid(start_page, end_page, cells),
                    Command::Quit => return,
                    other => s.message = Some(format!("command: {other:?}")),
                }
            }
            s.seq += 1;
            if snap_tx.send(s.clone()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let kind = tui::run(snap_rx, cmd_tx)?;
    std::process::exit(kind.code());
}
