//! Control messages from the parent: the main loop reads them from stdin between batches
//! (sleeping in ppoll(2) until the next batch is due) and applies them to the run.

use super::loops::share_q16;
use super::mapping::to_memmap_advice;
use super::{grep_mode, Run, Worker};
use crate::kernel::advice::Advice;
use crate::workload::worker::protocol::{Control, Report, WorkerState};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// At a rate limit above this many accesses per second the worker wakes at most every
/// `MIN_GAP` and runs what is due as one batch (fewer wake-ups: 500/s instead of one per access).
const RATE_BATCH_ABOVE: u64 = 500;
const MIN_GAP: Duration = Duration::from_millis(2);

impl Worker {
    pub(super) fn main_loop(&mut self) -> io::Result<()> {
        let stdin_fd = io::stdin().as_raw_fd();
        set_nonblocking(stdin_fd)?;
        let mut line = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let timeout = self.poll_timeout();
            if poll_readable(stdin_fd, timeout)? {
                match io::stdin().lock().read(&mut buf) {
                    Ok(0) => return Ok(()), // parent closed the pipe: it is gone
                    Ok(n) => {
                        for &b in &buf[..n] {
                            if b == b'\n' {
                                let cmd: Result<Control, _> = serde_json::from_slice(&line);
                                line.clear();
                                match cmd {
                                    Ok(Control::Stop) => {
                                        self.report()?;
                                        return Ok(());
                                    }
                                    Ok(c) => self.control(c)?,
                                    Err(e) => self.send(&Report::Ack {
                                        what: "parse".into(),
                                        error: Some(e.to_string()),
                                    })?,
                                }
                            } else {
                                line.push(b);
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.tick()?;
        }
    }

    /// How long to wait for a control message before the next batch is due. At a rate limit
    /// the worker sleeps in poll(2) until the next access is due (or a control arrives), so a
    /// slow demo costs about nothing; it never spins with a zero timeout.
    fn poll_timeout(&self) -> Duration {
        let r = &self.run;
        if r.step_pending {
            return Duration::ZERO;
        }
        if r.state != WorkerState::Running {
            return Duration::from_millis(200);
        }
        match r.rate {
            None => Duration::ZERO,
            Some(rate) => {
                // The next access is due when `rate_done + 1` accesses are allowed; above
                // RATE_BATCH_ABOVE accesses/s wake at most every MIN_GAP and run the accesses
                // due by then as one batch (the average rate is the same).
                let rate = rate.max(1) as f64;
                let next = (r.rate_done + 1) as f64 / rate;
                let now = r.rate_epoch.elapsed().as_secs_f64();
                let wait = Duration::from_secs_f64((next - now).clamp(0.0, 0.2));
                if rate > RATE_BATCH_ABOVE as f64 {
                    wait.max(MIN_GAP)
                } else {
                    wait
                }
            }
        }
    }

    fn control(&mut self, c: Control) -> io::Result<()> {
        match c {
            Control::Configure {
                pattern,
                limit,
                rate,
                paused,
                report_ms,
            } => {
                let mut params = pattern.params(self.size, self.page_size);
                // An empty file is a valid target (nothing is mapped; a run finishes at once
                // with 0 accesses, as `run` expects), so validate every field but the size.
                params.file_size = params.file_size.max(params.access_size).max(1);
                if let Err(e) = params.validate() {
                    return self.send(&Report::Ack {
                        what: "configure".into(),
                        error: Some(e),
                    });
                }
                let grep = match grep_mode::prepare(&pattern) {
                    Ok(g) => g,
                    Err(e) => {
                        return self.send(&Report::Ack {
                            what: "configure".into(),
                            error: Some(e),
                        })
                    }
                };
                let advice = self.run.advice;
                self.run = Run::new(pattern, self.size, self.page_size);
                self.run.grep = grep;
                self.run.advice = advice;
                self.run.limit = limit;
                self.run.rate = rate.filter(|&r| r > 0);
                self.run.report_ms = report_ms.max(1);
                self.run.state = if paused {
                    WorkerState::Paused
                } else {
                    WorkerState::Running
                };
                self.run.rate_epoch = Instant::now();
                self.recent.clear();
                self.send(&Report::Ack {
                    what: "configure".into(),
                    error: None,
                })?;
                self.report()?;
            }
            Control::SetRate { rate } => {
                self.run.rate = rate.filter(|&r| r > 0);
                self.run.rate_epoch = Instant::now();
                self.run.rate_done = 0;
                self.report()?;
            }
            Control::Pause => {
                if self.run.state == WorkerState::Running {
                    self.run.state = WorkerState::Paused;
                }
                self.report()?;
            }
            Control::Resume => {
                if self.run.state == WorkerState::Paused || self.run.state == WorkerState::Idle {
                    self.run.state = WorkerState::Running;
                    self.run.rate_epoch = Instant::now();
                    self.run.rate_done = 0;
                }
                self.report()?;
            }
            Control::Step => {
                if self.run.state != WorkerState::Finished {
                    self.run.state = WorkerState::Paused;
                    self.run.step_pending = true;
                }
            }
            Control::Advise { advice } => {
                // Leaving `hugepage`: madvise cannot clear VM_HUGEPAGE, only replace it with
                // VM_NOHUGEPAGE, so that is what the mapping gets (see Advice::Hugepage).
                let leaving_huge =
                    self.run.advice == Advice::Hugepage && advice != Advice::Hugepage;
                let err = match &self.map {
                    Some(m) => (if leaving_huge {
                        m.advise(memmap2::Advice::NoHugePage)
                    } else {
                        Ok(())
                    })
                    .and_then(|()| m.advise(to_memmap_advice(advice)))
                    .err()
                    .map(|e| e.to_string()),
                    None => None,
                };
                if err.is_none() {
                    self.run.advice = advice;
                }
                self.send(&Report::Ack {
                    what: "advise".into(),
                    error: err,
                })?;
                self.report()?;
            }
            Control::DropMapping => {
                let err = match &self.map {
                    Some(m) => crate::kernel::sys::madvise(m.addr(), m.len(), libc::MADV_DONTNEED)
                        .err()
                        .map(|e| e.to_string()),
                    None => None,
                };
                self.clear_touched();
                self.send(&Report::Ack {
                    what: "drop_mapping".into(),
                    error: err,
                })?;
                self.report()?;
            }
            Control::ResetTouched => {
                self.clear_touched();
                self.report()?;
            }
            Control::Stop => {}
            Control::Msync { sync } => self.msync(sync, false)?,
            Control::MsyncEvery { every } => {
                if let Some(ws) = self.write.as_mut() {
                    ws.msync_every = every.filter(|&n| n > 0);
                    ws.since_msync = 0;
                }
                let error = self
                    .write
                    .is_none()
                    .then(|| "not in write mode".to_string());
                self.send(&Report::Ack {
                    what: "msync_every".into(),
                    error,
                })?;
            }
            Control::SetWriteShare { share } => {
                let error = match self.write.as_mut() {
                    Some(_) if !(0.0..=1.0).contains(&share) => {
                        Some(format!("write share {share} is not between 0 and 1"))
                    }
                    Some(ws) => {
                        ws.share_q16 = share_q16(share);
                        None
                    }
                    None => Some("not in write mode".to_string()),
                };
                self.send(&Report::Ack {
                    what: "set_write_share".into(),
                    error,
                })?;
            }
        }
        Ok(())
    }
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl F_GETFL/F_SETFL on our own stdin; no memory arguments.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits up to `timeout` for `fd` to become readable (or hung up). ppoll(2) takes the timeout
/// in nanoseconds: poll(2)'s milliseconds would truncate 9.6 ms to 9 and the worker would then
/// spin with zero timeouts until the next access is due.
fn poll_readable(fd: i32, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: pfd is a valid pollfd array of length 1 and ts a valid timespec, both live for
    // the duration of the call; a null sigmask leaves the signal mask unchanged.
    let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(r > 0)
}
