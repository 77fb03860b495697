//! SSE parse throughput on one core: a recorded Promptev stream fed to the
//! parser split at every possible chunk boundary (two chunks per pass, one
//! pass per boundary), then the same bytes in 8 KiB chunks.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin sse
//! ```

use std::time::Instant;

use agentwire_runtime::sse::SseParser;

/// A Promptev reply as the service streams it: reasoning, tool status, an
/// approval request, keep-alive comments and the final answer.
fn recorded_stream() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..12 {
        s.push_str(&format!(
            "data: {{\"type\":\"thoughts\",\"output\":\"Step {i}: checking the backlog for P1 issues assigned to the platform team\"}}\n\n"
        ));
        if i % 4 == 0 {
            s.push_str(": keep-alive\n\n");
            s.push_str("data: {\"type\":\"processing\",\"output\":\"Searching Jira...\"}\n\n");
        }
    }
    s.push_str("data: {\"type\":\"approval_required\",\"output\":\"Tool 'jira.search' needs approval\"}\n\n");
    s.push_str("data: {\"type\":\"done\",\"output\":\"There are 3 open P1 bugs: AUTH-112 (login loop), PAY-87 (double charge), API-301 (timeouts on /v2/orders).\"}\n\n");
    s.into_bytes()
}

fn main() {
    let stream = recorded_stream();
    let mut out = Vec::with_capacity(64);
    // Expected events, to check every split gives the same result.
    let mut parser = SseParser::new();
    parser.feed(&stream, &mut out).expect("parses");
    let expected = out.len();

    let started = Instant::now();
    let mut bytes = 0usize;
    let mut passes = 0;
    while started.elapsed().as_secs_f64() < 2.0 {
        for split in 0..=stream.len() {
            let mut parser = SseParser::new();
            out.clear();
            parser.feed(&stream[..split], &mut out).expect("parses");
            parser.feed(&stream[split..], &mut out).expect("parses");
            assert_eq!(out.len(), expected);
            bytes += stream.len();
        }
        passes += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "recorded stream: {} bytes, {expected} events; split at all {} boundaries x {passes} passes: {:.0} MB/s (target >= 500)",
        stream.len(),
        stream.len() + 1,
        bytes as f64 / secs / 1e6
    );

    let big: Vec<u8> = stream.iter().copied().cycle().take(64 << 20).collect();
    let started = Instant::now();
    let mut parser = SseParser::new();
    let mut events = 0usize;
    for chunk in big.chunks(8192) {
        out.clear();
        parser.feed(chunk, &mut out).expect("parses");
        events += out.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "64 MiB of the same stream in 8 KiB chunks: {:.0} MB/s, {:.1} M events/s",
        big.len() as f64 / secs / 1e6,
        events as f64 / secs / 1e6
    );
}
