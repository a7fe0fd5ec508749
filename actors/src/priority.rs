//! Thread priorities: calls first, then writes, then bulk work.
//!
//! A twin under full-rate ingest has more runnable threads than cores,
//! and the OS shares the cores between them evenly unless told otherwise:
//! a `GetEntity` then waits its turn behind the shards applying batches
//! and the threads decoding them, tens of milliseconds on two cores. So
//! the threads that answer calls keep the normal priority, the shards
//! that apply writes run a little lower ([`WRITES`]), and bulk work that
//! only feeds them (decoding ingest streams, see `grpc::bulk`) lower
//! still ([`BULK`], on a [`Pool`] of their own). Each takes every cycle
//! the ones above leave: nothing is throttled while the cores are free.
//!
//! The shards are lowered less than bulk work because a call reads a
//! shard under its lock: the lower its holder, the longer a call waits
//! when the holder is preempted.

/// `nice` of the shard threads.
pub const WRITES: i32 = 6;
/// `nice` of bulk threads (ingest streams, load a benchmark generates).
pub const BULK: i32 = 10;

/// A multi-threaded tokio runtime whose threads run at a given priority:
/// work spawned here leaves the queue of the server's async workers, where
/// a call would wait behind it in arrival order. Shut down in the
/// background when dropped (it may be dropped from async code).
pub struct Pool {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Pool {
    /// `threads` threads named `name` at `nice`.
    pub fn new(name: &str, threads: usize, nice: i32) -> std::io::Result<Pool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(name)
            .on_thread_start(move || lower(nice))
            .enable_all()
            .build()?;
        Ok(Pool {
            runtime: Some(runtime),
        })
    }

    /// One thread per core at the bulk priority.
    pub fn bulk(name: &str) -> std::io::Result<Pool> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pool::new(name, cores, BULK)
    }

    /// Runs `task` on the pool.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .as_ref()
            .expect("the pool lives until dropped")
            .spawn(task)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Lowers the calling thread's priority to `nice` (Linux sets `nice` per
/// thread; elsewhere threads keep the normal priority). Lowering needs no
/// privilege; failing to is logged and otherwise harmless.
pub fn lower(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only take and return integers; with
    // PRIO_PROCESS and a thread id, Linux changes that thread alone.
    #[allow(unsafe_code)]
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) != 0 {
            tracing::debug!("cannot lower a thread's priority to nice {nice}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_thread_is_lowered_alone() {
        // SAFETY: getpriority reads an integer.
        #[allow(unsafe_code)]
        let nice_of =
            |tid: libc::pid_t| unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
        #[allow(unsafe_code)]
        let here = unsafe { libc::gettid() };
        let before = nice_of(here);
        let lowered = std::thread::spawn(move || {
            super::lower(before + 3);
            #[allow(unsafe_code)]
            nice_of(unsafe { libc::gettid() })
        })
        .join()
        .expect("thread");
        assert_eq!(lowered, (before + 3).min(19));
        assert_eq!(nice_of(here), before, "the calling thread only");
    }
}
