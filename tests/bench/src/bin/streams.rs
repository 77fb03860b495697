//! Promptev streams end to end: `stream_agent` against the sandbox (no
//! pause between events), streams/s, events/s and client CPU per 1000
//! streams — the same workload as the Python bench's promptev row.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin streams [streams]
//! ```

use std::time::Instant;

use agentwire_bench::{cpu_seconds, ChildSandbox};
use futures::StreamExt;

fn main() {
    agentwire_bench::serve_sandbox_if_child();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sb = ChildSandbox::spawn();
        let client = agentwire::promptev::v02::Client::builder(agentwire_sandbox::DEFAULT_PROJECT_KEY)
            .base_url(&sb.base_url)
            .build()
            .expect("client");
        let session = client.start_agent("echo-agent").await.expect("session");
        let cpu = cpu_seconds();
        let started = Instant::now();
        let mut events = 0usize;
        for _ in 0..n {
            let mut stream = client.stream_agent(&session.agent_id, &session.session_token, "hello");
            while let Some(event) = stream.next().await {
                event.expect("event");
                events += 1;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "agentwire stream_agent x{n}: {:.0} streams/s, {:.0} events/s, CPU {:.3}s per 1000 streams",
            n as f64 / secs,
            events as f64 / secs,
            (cpu_seconds() - cpu) / n as f64 * 1000.0
        );
    });
}
