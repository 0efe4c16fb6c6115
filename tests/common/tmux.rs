//! A real terminal for end-to-end tests: a private tmux server (its own socket) running one
//! command, driven by keys and read back from the screen; every wait polls against a
//! deadline, and the server is killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server running one command in a pane of a given size, killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn start(name: &str, cmd: &str) -> Tmux {
        Tmux::start_sized(name, cmd, 120, 40)
    }

    pub fn start_sized(name: &str, cmd: &str, w: u16, h: u16) -> Tmux {
        let (w, h) = (w.to_string(), h.to_string());
        let socket = format!("mmviz-e2e-{}-{name}", std::process::id());
        let st = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &w,
                "-y",
                &h,
            ])
            .arg(cmd)
            .env_remove("TMUX")
            .status()
            .expect("tmux runs");
        assert!(st.success(), "tmux new-session failed");
        Tmux { socket }
    }

    pub fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The screen with lines the terminal wrapped joined back into one (`capture-pane -J`),
    /// so a long message reads as it was printed, whatever column the wrap fell on.
    pub fn capture_joined(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn display(&self, fmt: &str) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", fmt])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Polls the screen until `f` holds; panics with the last screen after `secs`.
    pub fn wait(&self, secs: u64, what: &str, f: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        let mut last = String::new();
        while t0.elapsed() < Duration::from_secs(secs) {
            last = self.capture();
            if f(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; screen:\n{last}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
