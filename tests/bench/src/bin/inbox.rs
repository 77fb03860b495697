//! Mycel inbox frames/s end to end: notifications queued in the sandbox,
//! sent as WebSocket `notify` frames, parsed and yielded by
//! `notifications().stream()`. The sandbox runs on its own runtime thread;
//! notifications are pushed in batches of 100 while the client reads, so the
//! 256-frame replay buffer never overflows.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin inbox [frames]
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use agentwire::mycel::Client;
use agentwire::ExposeSecret;
use agentwire_bench::cpu_seconds;
use futures::StreamExt;

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let sandbox = server
        .block_on(agentwire_sandbox::Sandbox::start())
        .expect("sandbox");
    let handle = sandbox.mycel();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        let owner = handle.register_owner("bench@example.com", "pw");
        let owner = Client::builder(sandbox.base_url()).token(owner.token).build().expect("client");
        let agent = owner.users().create_external("reader", "Reader").await.expect("agent");
        let reader = owner.with_token(agent.token.expose_secret());
        let mut stream = reader.notifications().stream(Some(0)).into_stream();

        let consumed = Arc::new(AtomicI64::new(0));
        let pusher = {
            let (handle, consumed) = (handle.clone(), consumed.clone());
            std::thread::spawn(move || {
                let mut pushed = 0;
                while pushed < frames {
                    // Stay well inside the 256-frame replay buffer.
                    while pushed as i64 - consumed.load(Ordering::Relaxed) > 150 {
                        std::thread::yield_now();
                    }
                    let n = 100.min(frames - pushed);
                    handle.push_notifications("reader", n);
                    pushed += n;
                }
            })
        };
        let cpu = cpu_seconds();
        let started = Instant::now();
        let mut expected = 1;
        while expected <= frames as i64 {
            let n = stream.next().await.expect("stream open").expect("frame");
            assert_eq!(n.seq(), expected, "in order, none lost or repeated");
            consumed.store(expected, Ordering::Relaxed);
            expected += 1;
        }
        pusher.join().expect("pusher");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "inbox stream: {frames} notify frames in {:.2}s = {:.0} frames/s end to end (process CPU {:.2}s, server included)",
            secs,
            frames as f64 / secs,
            cpu_seconds() - cpu
        );
    });
    drop(sandbox);
}
