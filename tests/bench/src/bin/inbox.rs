//! Mycel inbox frames/s end to end: notifications queued in the sandbox (a
//! child process), sent as WebSocket `notify` frames, parsed and yielded by
//! `notifications().stream()`. A task pushes them over the sandbox's control
//! route in batches of 100 while the stream is read, never more than 150
//! ahead, so the 256-frame replay buffer never overflows — the same workload
//! as the Python bench's mycel row.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin inbox [frames]
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentwire::mycel::Client;
use agentwire_bench::{cpu_seconds, ChildSandbox};
use futures::StreamExt;

fn main() {
    agentwire_bench::serve_sandbox_if_child();
    let frames: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sb = Arc::new(ChildSandbox::spawn());
        let agent = sb.control("/_sandbox/mycel/agent", serde_json::json!({"user_id": "reader"})).await;
        let token = agent["token"].as_str().expect("token").to_owned();
        let reader = Client::builder(&sb.base_url).token(token).build().expect("client");
        let mut stream = reader.notifications().stream(Some(0)).into_stream();

        let consumed = Arc::new(AtomicI64::new(0));
        let pusher = {
            let (sb, consumed) = (sb.clone(), consumed.clone());
            tokio::spawn(async move {
                let mut pushed = 0i64;
                while pushed < frames {
                    while pushed - consumed.load(Ordering::Relaxed) > 150 {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                    let n = 100.min(frames - pushed);
                    sb.control("/_sandbox/mycel/push", serde_json::json!({"user_id": "reader", "n": n}))
                        .await;
                    pushed += n;
                }
            })
        };
        let cpu = cpu_seconds();
        let started = Instant::now();
        let mut expected = 1;
        while expected <= frames {
            let n = stream.next().await.expect("stream open").expect("frame");
            assert_eq!(n.seq, expected, "in order, none lost or repeated");
            consumed.store(expected, Ordering::Relaxed);
            expected += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        pusher.await.expect("pusher");
        println!(
            "agentwire notifications().stream(): {frames} frames in {secs:.2}s = {:.0} frames/s (client CPU {:.2}s, includes the pushing task)",
            frames as f64 / secs,
            cpu_seconds() - cpu
        );
    });
}
