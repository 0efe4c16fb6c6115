//! A real live session rendered to an SVG image and a text capture, without a terminal:
//! the README's screenshots (`assets/screenshots.sh` runs this).
//!
//! `MMVIZ_EXE=target/release/mmviz cargo run --release --example screenshot -- --cold
//!  --seconds 6 --svg assets/screen-120x40.svg --txt assets/screen-120x40.txt`
//!
//! The session, worker and sampling are the live view's own (`mmviz::session::spawn`); only
//! the screen is a ratatui `Buffer` instead of a terminal. MMVIZ_EXE names the mmviz binary
//! that runs the worker (this example is not it).

use clap::Parser;
use mmviz::cli::run::{parse_rate, pattern_spec};
use mmviz::cli::WorkloadArgs;
use mmviz::kernel::target::Target;
use mmviz::session::snapshot::Command;
use mmviz::session::{self, SessionOptions};
use mmviz::tui::{svg, App, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// File to map (default: the built-in demo file)
    file: Option<PathBuf>,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[arg(long, default_value = "2000")]
    rate: String,
    #[arg(long)]
    cold: bool,
    /// Seconds of the session before the capture
    #[arg(long, default_value_t = 6.0)]
    seconds: f64,
    /// Screen size, COLSxROWS
    #[arg(long, default_value = "120x40")]
    size: String,
    /// dark, light, projector or mono
    #[arg(long, default_value = "dark")]
    theme: String,
    #[arg(long)]
    svg: Option<PathBuf>,
    #[arg(long)]
    txt: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (w, h) = a
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
        .ok_or_else(|| anyhow::anyhow!("--size {}: not COLSxROWS", a.size))?;
    let theme = Theme::named(&a.theme).ok_or_else(|| anyhow::anyhow!("no theme {}", a.theme))?;
    let (path, is_demo) = match &a.file {
        Some(p) => (p.clone(), false),
        None => (mmviz::cli::demo::ensure_demo_file(true)?, true),
    };
    let t = Target::open(&path)?;
    let (spec, advice) = pattern_spec(&a.workload, t.size, &t.path)?;
    drop(t);
    let (tx, rx, handle) = session::spawn(SessionOptions {
        path,
        is_demo,
        spec,
        advice,
        rate: parse_rate(Some(&a.rate))?,
        cold: a.cold,
        hz: 10,
        compare: None,
        write: None,
    })?;
    let area = Rect::new(0, 0, w, h);
    let mut app = App::waiting(theme);
    let mut last_view = None;
    let end = Instant::now() + Duration::from_secs_f64(a.seconds);
    // As the TUI loop does: newest snapshot, then the view it implies.
    while Instant::now() < end || app.waiting {
        while let Ok(s) = rx.try_recv() {
            app.set_snapshot(s);
        }
        let view = app.view_request(app.grid_cells_area(area));
        if last_view.as_ref() != Some(&view) {
            tx.send(view.clone())?;
            last_view = Some(view);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // One more snapshot sampled for the final view, so the grid fills the screen's cells.
    if let Ok(s) = rx.recv_timeout(Duration::from_secs(1)) {
        app.set_snapshot(s);
    }
    let _ = tx.send(Command::Quit);
    let _ = handle.join();

    let mut buf = Buffer::empty(area);
    (&app).render(area, &mut buf);
    let term = if a.theme == "light" {
        &svg::LIGHT_TERMINAL
    } else {
        &svg::DARK_TERMINAL
    };
    let title = format!(
        "mmviz live view, {} theme, {w}×{h}: a real capture",
        a.theme
    );
    if let Some(p) = &a.svg {
        std::fs::write(p, svg::render(&buf, term, &title))?;
    }
    if let Some(p) = &a.txt {
        std::fs::write(p, svg::text(&buf))?;
    }
    if a.svg.is_none() && a.txt.is_none() {
        print!("{}", svg::text(&buf));
    }
    Ok(())
}
