//! Pagination: `iter_posts` over 100 000 posts (pages of 100).
//!
//! 1. Peak client heap while walking them all, against the size of one page
//!    (target: about two pages — the one being consumed and the one loading).
//! 2. With 5 ms of injected server latency and a consumer that spends 5 ms per
//!    page, the prefetching stream against a strictly sequential walk (fetch a
//!    page, consume it, fetch the next) — target ≤ 0.6×.
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin pagination [posts]
//! ```

use std::time::{Duration, Instant};

use agentwire_bench::{live_bytes, peak_bytes, reset_peak, ChildSandbox, CountingAlloc};
use futures::StreamExt;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const PAGE: u32 = 100;

fn main() {
    agentwire_bench::serve_sandbox_if_child();
    let posts: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sb = ChildSandbox::spawn();
        let key = sb.colony_agent("pager").await;
        sb.control("/_sandbox/colony/seed", serde_json::json!({"username": "pager", "count": posts})).await;
        let client = agentwire::colony::Client::builder(&key)
            .base_url(&sb.base_url)
            .build()
            .expect("client");

        // Size of one page as the client holds it.
        let before = live_bytes();
        let page = client.get_posts().limit(PAGE).await.expect("a page");
        let one_page = live_bytes().saturating_sub(before);
        drop(page);

        // 1. Peak memory over the whole walk.
        let baseline = reset_peak();
        let started = Instant::now();
        let mut stream = client.iter_posts().page_size(PAGE).into_stream();
        let mut n = 0u64;
        while let Some(post) = stream.next().await {
            post.expect("post");
            n += 1;
        }
        drop(stream);
        let walk = started.elapsed();
        let peak = peak_bytes().saturating_sub(baseline);
        assert_eq!(n, posts);
        println!("iter_posts over {n} posts, pages of {PAGE}: {:.2?} ({:.0} posts/s)", walk, n as f64 / walk.as_secs_f64());
        println!(
            "  one page held by the client: {:.1} KiB; peak heap above baseline during the walk: {:.1} KiB = {:.2} pages",
            one_page as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak as f64 / one_page.max(1) as f64
        );

        // 2. Prefetch against a strictly sequential walk, 5 ms latency, 5 ms
        // of work per page, over the first 100 pages.
        sb.control("/_sandbox/faults", serde_json::json!({"latency_ms": 5})).await;
        let pages = 100u64;
        let work = Duration::from_millis(5);

        let started = Instant::now();
        let mut stream = client.iter_posts().page_size(PAGE).max_results(pages * u64::from(PAGE)).into_stream();
        let mut i = 0u64;
        while let Some(post) = stream.next().await {
            post.expect("post");
            i += 1;
            if i.is_multiple_of(u64::from(PAGE)) {
                tokio::time::sleep(work).await;
            }
        }
        let prefetched = started.elapsed();

        let started = Instant::now();
        for p in 0..pages {
            let page = client
                .get_posts()
                .limit(PAGE)
                .offset(p * u64::from(PAGE))
                .await
                .expect("page");
            assert_eq!(page.items.len() as u32, PAGE);
            tokio::time::sleep(work).await;
        }
        let sequential = started.elapsed();
        println!(
            "{pages} pages, 5 ms server latency + 5 ms work per page: prefetching {:.2?}, sequential {:.2?}, ratio {:.2} (target <= 0.60)",
            prefetched,
            sequential,
            prefetched.as_secs_f64() / sequential.as_secs_f64()
        );
    });
}
