//! Token refresh under load: 1000 concurrent `get_posts` calls made right
//! after the service expired every token. Counts the key → token exchanges
//! (must be exactly one) and compares the p99 latency with the same burst
//! when the token is still valid.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin token_refresh
//! ```

use std::time::{Duration, Instant};

use agentwire_bench::{percentiles, us, ChildSandbox};

async fn burst(client: &agentwire::colony::Client, n: usize) -> (Duration, Duration, Duration) {
    let started = Instant::now();
    let calls = (0..n).map(|_| {
        let c = client.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            c.get_posts().limit(5).await.expect("get_posts");
            t.elapsed()
        })
    });
    let mut lat: Vec<Duration> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let total = started.elapsed();
    let (p50, p99) = percentiles(&mut lat);
    (total, p50, p99)
}

fn main() {
    agentwire_bench::serve_sandbox_if_child();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sb = ChildSandbox::spawn();
        let key = sb.colony_agent("refresher").await;
        sb.control("/_sandbox/colony/seed", serde_json::json!({"username": "refresher", "count": 20})).await;
        let client = agentwire::colony::Client::builder(&key)
            .base_url(&sb.base_url)
            .build()
            .expect("client");
        let n = 1000;
        // Warm-up burst: opens the connections the measured bursts reuse.
        burst(&client, n).await;
        let (total, p50, p99) = burst(&client, n).await;
        println!("{n} concurrent calls, valid token:   total {:.2?}, p50 {} µs, p99 {} µs", total, us(p50), us(p99));
        let before = client.token_exchanges();
        sb.control("/_sandbox/faults", serde_json::json!({"expire_tokens": true})).await;
        let (total, p50e, p99e) = burst(&client, n).await;
        let exchanges = client.token_exchanges() - before;
        println!("{n} concurrent calls, expired token: total {:.2?}, p50 {} µs, p99 {} µs", total, us(p50e), us(p99e));
        println!("token exchanges during the expired burst: {exchanges} (must be 1); p99 cost of the refresh: {} µs", us(p99e.saturating_sub(p99)));
        assert_eq!(exchanges, 1);
    });
}
