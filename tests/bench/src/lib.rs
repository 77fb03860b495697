//! Shared pieces of the benchmarks: a sandbox in a child process (so the
//! process being measured holds only the client), percentiles, and a
//! counting allocator for peak-memory figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const SANDBOX_FLAG: &str = "__agentwire_bench_sandbox";

/// Call first in `main`: when this process was started as the sandbox
/// child, serve until killed and never return.
pub fn serve_sandbox_if_child() {
    if std::env::args().nth(1).as_deref() != Some(SANDBOX_FLAG) {
        pin_if_asked(0);
        return;
    }
    pin_if_asked(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let sb = agentwire_sandbox::Sandbox::builder()
            .event_delay(Duration::ZERO)
            .start()
            .await
            .expect("sandbox starts");
        println!("{}", sb.base_url());
        std::future::pending::<()>().await;
    });
    std::process::exit(0);
}

/// With `AGENTWIRE_BENCH_PIN=1`, binds this process (the threads it starts
/// from now on) to CPU `cpu`: the client to CPU 0, the sandbox child to CPU
/// 1, so that neither migrates nor takes the other's core. Warns and goes on
/// unpinned if the kernel refuses.
fn pin_if_asked(cpu: usize) {
    if std::env::var_os("AGENTWIRE_BENCH_PIN").is_none() {
        return;
    }
    // SAFETY: an all-zero `cpu_set_t` is the empty set; CPU_SET writes
    // inside it, and sched_setaffinity reads the set it is given.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        eprintln!(
            "AGENTWIRE_BENCH_PIN: cannot bind to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A sandbox running in a child process; killed on drop.
pub struct ChildSandbox {
    child: Child,
    /// Its base URL.
    pub base_url: String,
}

impl ChildSandbox {
    /// Starts the current executable again as a sandbox (one worker thread).
    pub fn spawn() -> ChildSandbox {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg(SANDBOX_FLAG)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sandbox");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sandbox prints its URL");
        ChildSandbox {
            child,
            base_url: line.trim().to_owned(),
        }
    }

    /// POSTs a control request (`/_sandbox/...`).
    pub async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .expect("control request")
            .json()
            .await
            .expect("control answer")
    }

    /// Registers a Colony agent and returns its key.
    pub async fn colony_agent(&self, username: &str) -> String {
        let v = self
            .control(
                "/_sandbox/colony/register",
                serde_json::json!({"username": username}),
            )
            .await;
        v["api_key"].as_str().expect("api key").to_owned()
    }
}

impl Drop for ChildSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// p50 and p99 of a set of latencies (sorts in place).
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

/// Microseconds with one decimal, for tables.
pub fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

/// A global allocator that tracks live and peak heap bytes.
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// Live heap bytes now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Resets the peak to the current live size; returns it.
pub fn reset_peak() -> usize {
    let now = LIVE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// Peak live heap bytes since the last reset.
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// CPU time (user + system, all threads) this process has used so far, in
/// seconds, from `CLOCK_PROCESS_CPUTIME_ID` (nanosecond accounting: the
/// clock ticks of `/proc/self/stat` are 10 ms, about 5 % of a 3000-request
/// run); zero if the clock cannot be read.
pub fn cpu_seconds() -> f64 {
    clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The calling thread's CPU time (user and system), in seconds.
pub fn thread_cpu_seconds() -> f64 {
    clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The reading of `clock` in seconds, 0 if it cannot be read.
fn clock_seconds(clock: libc::clockid_t) -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    if rc != 0 {
        return 0.0;
    }
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

/// This process's user and system CPU seconds and its voluntary and
/// involuntary context switches so far (`getrusage(RUSAGE_SELF)`, every
/// thread, no child); zeros if it cannot be read.
pub fn rusage() -> (f64, f64, f64, f64) {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        secs(usage.ru_utime),
        secs(usage.ru_stime),
        usage.ru_nvcsw as f64,
        usage.ru_nivcsw as f64,
    )
}

/// Decodes a page of posts from JSON with serde_json, compiled in this
/// library crate rather than in the binary that calls it.
///
/// In a release build each crate compiles its own copy of a generic
/// function, so the decoding code that plain reqwest's `.json()` runs (the
/// bench binary's copy) and the one the runtime runs (the transport crate's
/// copy) are two separate compilations, laid out at different addresses,
/// of the same source. The `reqwest-copy` client of the overhead bench
/// decodes with this third copy, to show how much the layout of otherwise
/// identical code moves a client's cost.
#[inline(never)]
pub fn decode_posts(
    body: &[u8],
) -> serde_json::Result<agentwire_colony_transport::types::CursorPaginatedListPostOut> {
    serde_json::from_slice(body)
}
