//! The live session without a terminal, for tests: commands in, snapshots out, the whole file
//! in one grid (so grid totals are whole-file totals), every wait under a deadline.

use mmviz::session::snapshot::{Command, RunState, Snapshot};
use mmviz::session::{self, SessionOptions};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Live {
    tx: Sender<Command>,
    rx: Receiver<Snapshot>,
    pub handle: Option<JoinHandle<()>>,
    last: Option<Snapshot>,
    cells: u64,
}

impl Live {
    /// Starts a session (the worker is the binary under test) showing the whole file.
    pub fn spawn(opts: SessionOptions) -> Live {
        std::env::set_var("MMVIZ_EXE", super::BIN);
        let (tx, rx, handle) = session::spawn(opts).expect("session starts");
        tx.send(Command::SetView {
            start_page: 0,
            end_page: u64::MAX,
            cells: 512,
        })
        .unwrap();
        Live {
            tx,
            rx,
            handle: Some(handle),
            last: None,
            cells: 512,
        }
    }

    pub fn send(&self, c: Command) {
        self.tx.send(c).unwrap();
    }

    /// The next snapshot that satisfies `f`; panics with the last one after 30 s.
    pub fn wait(&mut self, what: &str, f: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(s) = self.rx.recv_timeout(Duration::from_millis(200)) {
                if f(&s) {
                    self.last = Some(s.clone());
                    return s;
                }
                self.last = Some(s);
            }
        }
        panic!(
            "timed out waiting for {what}; last snapshot: {:#?}",
            self.last
        );
    }

    /// A fresh whole-file sample. A paused session sends a snapshot only when something
    /// changed, so the view is nudged (512 or 480 cells, still the whole file; the two differ
    /// in pages per cell for every file size the tests use) to ask for one.
    pub fn fresh(&mut self) -> Snapshot {
        self.cells = if self.cells == 512 { 480 } else { 512 };
        let cells = self.cells;
        self.send(Command::SetView {
            start_page: 0,
            end_page: u64::MAX,
            cells,
        });
        self.wait("a fresh sample", move |s| {
            let (ppc, n) = mmviz::session::grid::geometry(0, s.file.pages, cells);
            s.grid.pages_per_cell == ppc && s.grid.cells.len() as u64 == n
        })
    }

    /// Pauses the worker and returns a sample taken after the pause took effect.
    pub fn paused(&mut self) -> Snapshot {
        self.send(Command::TogglePause);
        self.wait("paused", |s| s.worker.state == RunState::Paused);
        std::thread::sleep(Duration::from_millis(150));
        let s = self.fresh();
        assert_eq!(s.worker.state, RunState::Paused);
        s
    }

    /// Quits and waits for the session thread (which ends the worker and drops what the
    /// session owns, e.g. a scratch copy).
    pub fn end(mut self) {
        let _ = self.tx.send(Command::Quit);
        if let Some(h) = self.handle.take() {
            h.join().expect("session thread");
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
