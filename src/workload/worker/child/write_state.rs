//! Write-mode state: the store share and its accumulator, and msync (on request or every N
//! accesses).

use super::Worker;
use crate::workload::worker::protocol::Report;
use std::io;
use std::time::Instant;

/// Write-mode state of the worker.
#[derive(Default)]
pub(super) struct WriteState {
    /// Share of stores in 1/65536 (65536 = every access stores).
    pub(super) share_q16: u32,
    /// Bresenham accumulator: stores are spread evenly, deterministically.
    pub(super) acc: u32,
    pub(super) msync_every: Option<u64>,
    pub(super) since_msync: u64,
}

impl Worker {
    /// msync over the whole mapping, timed here (the parent measures the pages it wrote back
    /// with cachestat around it).
    pub(super) fn msync(&mut self, sync: bool, periodic: bool) -> io::Result<()> {
        let flags = if sync { libc::MS_SYNC } else { libc::MS_ASYNC };
        let (ns, error) = match &self.map {
            Some(m) => {
                let t0 = Instant::now();
                let r = crate::kernel::sys::msync(m.addr(), m.len(), flags);
                (
                    t0.elapsed().as_nanos() as u64,
                    r.err().map(|e| e.to_string()),
                )
            }
            None => (0, None),
        };
        self.send(&Report::Msynced {
            sync,
            ns,
            periodic,
            error,
        })
    }

    /// `MsyncEvery`: counts accesses and runs msync(MS_SYNC) when N are done.
    pub(super) fn after_batch_msync(&mut self, n: usize) -> io::Result<()> {
        let Some(ws) = self.write.as_mut() else {
            return Ok(());
        };
        let Some(every) = ws.msync_every else {
            return Ok(());
        };
        ws.since_msync += n as u64;
        if ws.since_msync >= every {
            ws.since_msync = 0;
            self.msync(true, true)?;
        }
        Ok(())
    }

    /// Accesses left before the next periodic msync (caps a batch).
    pub(super) fn msync_cap(&self) -> u64 {
        match &self.write {
            Some(WriteState {
                msync_every: Some(n),
                since_msync,
                ..
            }) => n.saturating_sub(*since_msync).max(1),
            _ => u64::MAX,
        }
    }
}
