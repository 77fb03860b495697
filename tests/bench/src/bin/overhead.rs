//! Request overhead: `get_posts` (20 posts a page) through the facade, through
//! the generated transport alone, and as a plain reqwest call with the same
//! headers decoding into the same type, at concurrency 1, 16 and 64. All three
//! send the same query (`limit=20&sort=newest`, what the facade sends).
//!
//! ```text
//! cargo run --release -p agentwire-bench --bin overhead [requests-per-run]
//! ```
//! Kinds are interleaved over several rounds and the median round is kept,
//! and both ratios (throughput, client CPU per request) are medians of the
//! per-round ratios, so drift on a noisy machine hits all three alike; the
//! interquartile range of the per-round CPU ratios and the ratio of the CPU
//! sums over all rounds are printed beside them. Many short rounds
//! (`AGENTWIRE_BENCH_ROUNDS=101`, 150 requests a run) cancel more of a
//! shared machine's drift than a few long ones; `AGENTWIRE_BENCH_ALTERNATE=1`
//! cancels nearly all of it (blocks of 16 requests a worker, each timed by
//! a CPU clock and by the wall clock, which gives the throughput, at the
//! concurrency `AGENTWIRE_BENCH_CONC` sets; see `alternate`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentwire_bench::{cpu_seconds, percentiles, thread_cpu_seconds, us, ChildSandbox};
use agentwire_colony_transport as transport;
use agentwire_runtime::{RetryConfig, Runtime};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Facade,
    Transport,
    Reqwest,
    /// Plain reqwest decoding with another compiled copy of the same
    /// decoding code (see [`agentwire_bench::decode_posts`]).
    ReqwestCopy,
}

#[derive(Clone)]
struct Clients {
    facade: agentwire::colony::Client,
    transport: Arc<transport::Client>,
    reqwest: reqwest::Client,
    base: String,
    /// `AGENTWIRE_BENCH_BASELINE_DECODE=1`: plain reqwest decodes as the
    /// runtime does (the body checked as UTF-8 once, then `from_str`)
    /// instead of with `Response::json` (`from_slice`, which checks each
    /// string), so that the comparison leaves the decoding out.
    decode_as_runtime: bool,
}

async fn one(c: &Clients, kind: Kind) {
    match kind {
        Kind::Facade => {
            let page = c
                .facade
                .get_posts()
                .limit(20)
                .await
                .expect("facade get_posts");
            assert_eq!(page.items.len(), 20);
        }
        Kind::Transport => {
            let page = c
                .transport
                .get_posts()
                .limit(20u64)
                .sort(transport::types::GetPostsSort::Newest)
                .await
                .expect("transport get_posts");
            assert_eq!(page.items.len(), 20);
        }
        Kind::Reqwest if c.decode_as_runtime => {
            let body = plain_get_posts(c).await.bytes().await.expect("body");
            let text = std::str::from_utf8(&body).expect("utf-8");
            let page: transport::types::CursorPaginatedListPostOut =
                serde_json::from_str(text).expect("decode");
            assert_eq!(page.items.len(), 20);
        }
        Kind::Reqwest => {
            let page: transport::types::CursorPaginatedListPostOut =
                plain_get_posts(c).await.json().await.expect("decode");
            assert_eq!(page.items.len(), 20);
        }
        Kind::ReqwestCopy => {
            let body = plain_get_posts(c).await.bytes().await.expect("body");
            let page = agentwire_bench::decode_posts(&body).expect("decode");
            assert_eq!(page.items.len(), 20);
        }
    }
}

/// Plain reqwest's `get_posts`, up to a successful response head.
async fn plain_get_posts(c: &Clients) -> reqwest::Response {
    c.reqwest
        .get(format!("{}/api/v1/posts", c.base))
        .query(&[("limit", "20"), ("sort", "newest")])
        .send()
        .await
        .expect("reqwest send")
        .error_for_status()
        .expect("2xx")
}

/// Runs `total` requests with `concurrency` workers; returns (req/s, p50, p99).
async fn run(c: &Clients, kind: Kind, concurrency: usize, total: usize) -> Sample {
    let per_worker = total / concurrency;
    let cpu = cpu_seconds();
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let c = c.clone();
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let t = Instant::now();
                one(&c, kind).await;
                lat.push(t.elapsed());
            }
            lat
        })
    });
    let mut all = Vec::with_capacity(total);
    for w in futures::future::join_all(workers).await {
        all.extend(w.expect("worker"));
    }
    let elapsed = started.elapsed();
    let cpu_per_1000 = (cpu_seconds() - cpu) / all.len() as f64 * 1000.0;
    let (p50, p99) = percentiles(&mut all);
    (
        all.len() as f64 / elapsed.as_secs_f64(),
        p50,
        p99,
        cpu_per_1000,
    )
}

type Sample = (f64, Duration, Duration, f64);

/// About `total` requests of each kind, the kinds taking turns in blocks
/// in a rotating order, each block timed by a CPU clock (user and system
/// time). Drift of a shared machine, which moves whole runs by several
/// percent, falls on the three kinds alike at this grain.
///
/// At concurrency 1 a block is `BLOCK` requests on the one-thread runtime,
/// timed by the thread's clock. At concurrency `c` above 1 a block is `c`
/// workers of `BLOCK` requests each on the two-worker runtime, timed by the
/// process's clock (the sandbox is another process); the workers wait for
/// each other after their warm-up, so the counted part starts with all `c`
/// requests in flight and ends when the last worker is done.
///
/// The first `WARM` requests of each block (of each worker) are not
/// counted: they pay for code and predictor state that the other kinds'
/// requests displaced, which a client sending only its own requests would
/// not (when every request was counted at concurrency 1, the facade
/// measured 1.12–1.13× reqwest with plain reqwest calls in the slot before
/// it and 1.06–1.07× with the transport's, which warms the same runtime
/// code; with the warm-up left out, two slots running the same code measure
/// 0.998–1.000× each other). Prints each kind's CPU per counted request and
/// the ratios to reqwest's, overall and per tenth of the run (the spread of
/// the tenths shows how far the overall ratio can be trusted).
async fn alternate(c: &Clients, total: usize, concurrency: usize) {
    const BLOCK: usize = 16;
    const WARM: usize = 4;
    // `AGENTWIRE_BENCH_COPY=1`: the second slot runs plain reqwest with
    // another compiled copy of the decoding code instead of the transport.
    let copy = std::env::var_os("AGENTWIRE_BENCH_COPY").is_some();
    let (second, second_name) = if copy {
        (Kind::ReqwestCopy, "reqwest-copy")
    } else {
        (Kind::Transport, "transport")
    };
    let kinds = [Kind::Facade, second, Kind::Reqwest];
    let per_block = BLOCK * concurrency;
    let blocks = total.div_ceil(per_block).max(10);
    let tenths = 10;
    let mut sums = vec![[0.0f64; 3]; tenths];
    // Wall seconds of the counted requests, per kind: their throughput.
    let mut walls = [0.0f64; 3];
    for b in 0..blocks {
        for k in 0..3 {
            let i = (k + b) % 3;
            let (cpu, wall) = block(c, kinds[i], concurrency, WARM, BLOCK).await;
            sums[b * tenths / blocks][i] += cpu;
            walls[i] += wall;
        }
    }
    let counted = (blocks * (BLOCK - WARM) * concurrency) as f64;
    let all = sums
        .iter()
        .fold([0.0; 3], |a, s| [a[0] + s[0], a[1] + s[1], a[2] + s[2]]);
    println!(
        "concurrency {concurrency}, alternating blocks of {BLOCK} a worker ({WARM} uncounted), {counted} counted requests of each kind: CPU µs a request facade {:.1}, {second_name} {:.1}, reqwest {:.1}; vs reqwest facade {:.3}x, {second_name} {:.3}x",
        all[0] / counted * 1e6,
        all[1] / counted * 1e6,
        all[2] / counted * 1e6,
        all[0] / all[2],
        all[1] / all[2],
    );
    println!(
        "throughput of the counted requests vs reqwest: facade {:.3}x, {second_name} {:.3}x",
        walls[2] / walls[0],
        walls[2] / walls[1],
    );
    for (slot, name) in [(0, "facade"), (1, second_name)] {
        let per_tenth: Vec<String> = sums
            .iter()
            .map(|s| format!("{:.3}", s[slot] / s[2]))
            .collect();
        println!(
            "{name} vs reqwest per tenth of the run: {}",
            per_tenth.join(" ")
        );
    }
}

/// One block of [`alternate`]: the CPU seconds and the wall seconds of its
/// counted requests.
async fn block(c: &Clients, kind: Kind, concurrency: usize, warm: usize, len: usize) -> (f64, f64) {
    if concurrency == 1 {
        for _ in 0..warm {
            one(c, kind).await;
        }
        let started = Instant::now();
        let before = thread_cpu_seconds();
        for _ in warm..len {
            one(c, kind).await;
        }
        let cpu = thread_cpu_seconds() - before;
        return (cpu, started.elapsed().as_secs_f64());
    }
    let start = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let c = c.clone();
            let start = start.clone();
            tokio::spawn(async move {
                for _ in 0..warm {
                    one(&c, kind).await;
                }
                start.wait().await;
                for _ in warm..len {
                    one(&c, kind).await;
                }
            })
        })
        .collect();
    start.wait().await;
    let started = Instant::now();
    let before = cpu_seconds();
    for w in futures::future::join_all(workers).await {
        w.expect("worker");
    }
    let cpu = cpu_seconds() - before;
    (cpu, started.elapsed().as_secs_f64())
}

/// Rounds per concurrency level; each runs the three kinds once
/// (`AGENTWIRE_BENCH_ROUNDS` sets another number).
const ROUNDS: usize = 5;

/// A positive count from the environment variable `name`, if it holds one.
fn env_count(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok().filter(|&n| n > 0)
}

/// The median and the quartiles of `v` (nearest rank).
fn quartiles(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn main() {
    agentwire_bench::serve_sandbox_if_child();
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    // `AGENTWIRE_BENCH_ALTERNATE=1`: the kinds take turns in short blocks,
    // each timed by a CPU clock (see `alternate`), at the concurrency
    // `AGENTWIRE_BENCH_CONC` gives (1 by default).
    let alternating = std::env::var_os("AGENTWIRE_BENCH_ALTERNATE").is_some();
    let alternate_conc = env_count("AGENTWIRE_BENCH_CONC").unwrap_or(1);
    // `AGENTWIRE_BENCH_RUNTIME=current` (implied by the above at
    // concurrency 1): one thread runs the clients, so the work-stealing
    // scheduler's wake-ups between threads are left out.
    let current = (alternating && alternate_conc == 1)
        || std::env::var("AGENTWIRE_BENCH_RUNTIME").as_deref() == Ok("current");
    let rt = if current {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .expect("runtime");
    rt.block_on(async move {
        let sb = ChildSandbox::spawn();
        let key = sb.colony_agent("bench").await;
        sb.control("/_sandbox/colony/seed", serde_json::json!({"username": "bench", "count": 200})).await;

        let facade = agentwire::colony::Client::builder(&key)
            .base_url(&sb.base_url)
            .build()
            .expect("facade client");
        // The transport alone and plain reqwest send the facade's token as a
        // fixed header: auth costs the same for all three after the first call.
        let token: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/token", sb.base_url))
            .json(&serde_json::json!({"api_key": key}))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        let bearer = format!("Bearer {}", token["access_token"].as_str().expect("token"));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().expect("header"));
        // `AGENTWIRE_BENCH_BASELINE_TIMEOUTS=1`: plain reqwest (and the
        // transport, which sends through it) get the facade's default
        // timeouts, 30 s a request and 10 s to connect, so the comparison
        // is of the same work, timers included.
        let mut plain = reqwest::Client::builder().default_headers(headers);
        if std::env::var_os("AGENTWIRE_BENCH_BASELINE_TIMEOUTS").is_some() {
            plain = plain
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10));
        }
        let plain = plain.build().expect("reqwest");
        let rt_bare = Runtime::builder("colony").retry(RetryConfig::none()).build();
        let clients = Clients {
            facade,
            transport: Arc::new(transport::Client::new_with_client(&sb.base_url, plain.clone(), rt_bare)),
            reqwest: plain,
            base: sb.base_url.clone(),
            decode_as_runtime: std::env::var_os("AGENTWIRE_BENCH_BASELINE_DECODE").is_some(),
        };
        for kind in [Kind::Facade, Kind::Transport, Kind::Reqwest] {
            run(&clients, kind, 8, 400).await; // warm-up: connections, token
        }
        // `AGENTWIRE_BENCH_ONLY=facade` (or transport, reqwest, reqwest-copy): that client
        // alone, one worker, for a profiler (`perf record --no-inherit`).
        if let Ok(only) = std::env::var("AGENTWIRE_BENCH_ONLY") {
            let kind = match only.as_str() {
                "facade" => Kind::Facade,
                "transport" => Kind::Transport,
                "reqwest-copy" => Kind::ReqwestCopy,
                _ => Kind::Reqwest,
            };
            let conc = env_count("AGENTWIRE_BENCH_CONC").unwrap_or(1);
            let before = agentwire_bench::rusage();
            let (rps, _, _, cpu) = run(&clients, kind, conc, total).await;
            let after = agentwire_bench::rusage();
            let per = |a: f64, b: f64| (b - a) / total as f64 * 1e6;
            println!(
                "{only}: {rps:.0} req/s, {cpu:.3} CPU s/1000 (user {:.1} µs, sys {:.1} µs a request; {:.2} voluntary / {:.2} involuntary switches)",
                per(before.0, after.0),
                per(before.1, after.1),
                (after.2 - before.2) / total as f64,
                (after.3 - before.3) / total as f64,
            );
            return;
        }

        if alternating {
            alternate(&clients, total, alternate_conc).await;
            return;
        }

        let rounds_n = env_count("AGENTWIRE_BENCH_ROUNDS").unwrap_or(ROUNDS);
        println!("get_posts (limit 20) against the sandbox in a child process, {total} requests per run, median of {rounds_n} rounds (ratio: median of the per-round ratios; IQR: their interquartile range; sums: all rounds' CPU against reqwest's)");
        println!(
            "{:<11} {:>5} {:>10} {:>9} {:>9} {:>12} {:>12} {:>15} {:>13} {:>10}",
            "client", "conc", "req/s", "p50 µs", "p99 µs", "CPU s/1000", "vs reqwest", "CPU vs reqwest", "CPU IQR", "CPU sums"
        );
        // `AGENTWIRE_BENCH_CONC=1`: that concurrency only.
        let levels = env_count("AGENTWIRE_BENCH_CONC").map_or_else(|| vec![1, 16, 64], |c| vec![c]);
        for concurrency in levels {
            let mut rounds: Vec<Vec<Sample>> = vec![Vec::new(); 3];
            // Ratios are taken inside each round, whose three runs follow each
            // other closely, and the order rotates so that no kind always runs
            // first; the median round ratio is what the target is judged on.
            // Per round: throughput ratios (facade, transport) and CPU ratios.
            let mut ratios: Vec<[f64; 4]> = Vec::new();
            // CPU of every round, per kind, for the ratio of the sums.
            let mut cpu_sums = [0.0f64; 3];
            for round in 0..rounds_n {
                let mut this = [None; 3];
                for k in 0..3 {
                    let i = (k + round) % 3;
                    let kind = [Kind::Facade, Kind::Transport, Kind::Reqwest][i];
                    let sample = run(&clients, kind, concurrency, total).await;
                    this[i] = Some(sample);
                    rounds[i].push(sample);
                }
                if let [Some(f), Some(t), Some(r)] = this {
                    for (sum, sample) in cpu_sums.iter_mut().zip([f, t, r]) {
                        *sum += sample.3;
                    }
                    ratios.push([f.0 / r.0, t.0 / r.0, f.3 / r.3, t.3 / r.3]);
                }
            }
            let median = |v: &mut Vec<Sample>| {
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                v[v.len() / 2]
            };
            let ratio_quartiles = |i: usize| quartiles(&ratios.iter().map(|x| x[i]).collect::<Vec<_>>());
            let results: Vec<_> = rounds.iter_mut().map(median).collect();
            let ratio = [ratio_quartiles(0).0, ratio_quartiles(1).0, 1.0];
            let cpu_ratio = [ratio_quartiles(2), ratio_quartiles(3), (1.0, 1.0, 1.0)];
            for ((((kind, (rps, p50, p99, cpu)), ratio), (cpu_ratio, q1, q3)), sum) in ["facade", "transport", "reqwest"]
                .iter()
                .zip(&results)
                .zip(ratio)
                .zip(cpu_ratio)
                .zip(cpu_sums)
            {
                println!(
                    "{:<11} {:>5} {:>10.0} {:>9} {:>9} {:>12.3} {:>11.3}x {:>14.3}x {:>6.3}-{:<6.3} {:>9.3}x",
                    kind, concurrency, rps, us(*p50), us(*p99), cpu, ratio, cpu_ratio, q1, q3, sum / cpu_sums[2]
                );
            }
        }
    });
}
