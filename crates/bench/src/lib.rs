//! `switchboard-bench`: the MCP load generator behind `switchboard bench`. N virtual clients
//! each keep one request in flight (closed loop) or follow a schedule (`--rate`, open loop)
//! against a Streamable HTTP, WebSocket or stdio server, in the modern or the legacy era, for a
//! duration or a request count. Every reply is checked (`message.rs`): an error or a wrong result is a failure, never a success.
//! The report has throughput, latency percentiles (HdrHistogram), failures by kind and, when
//! the server is a local process, its RSS and CPU.
//!
//! | file | what |
//! | --- | --- |
//! | `args.rs` | the flags |
//! | `message.rs` | requests and reply checks |
//! | `http.rs`, `ws.rs`, `stdio.rs` | one client per transport |
//! | `stats.rs` | histograms, failures, the stop condition |
//! | `procstat.rs` | the server's RSS and CPU from `/proc` |
//! | `report.rs` | the table and the JSON |

mod args;
mod http;
mod message;
mod procstat;
mod report;
mod scripted_llm;
mod stats;
mod stdio;
mod ws;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

pub use args::{BenchArgs, Era, Scenario, Target};

use message::{Failure, Messages};
use report::{IdleReport, MachineUsage, Report, ServerUsage};
use stats::{Budget, Live, Stats};

/// Runs the benchmark described by `args` and prints its report on stdout.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let target = args.target()?;
    if let Target::ScriptedLlm(addr) = &target {
        return scripted_llm::serve(addr, Duration::from_millis(args.round_ms)).await;
    }
    if args.connections == 0 {
        anyhow::bail!("--connections must be at least 1");
    }
    let report = match args.idle_sessions {
        Some(n) => idle_sessions(&args, &target, n).await?,
        None => load(&args, &target).await?,
    };
    report.print(args.json)
}

/// The connection each virtual client drives.
enum Conn {
    Http(http::HttpConn),
    Ws(Box<ws::WsConn>),
    Stdio(stdio::StdioConn),
}

impl Conn {
    async fn call(&mut self, out: message::Outgoing) -> Result<bytes::Bytes, Failure> {
        match self {
            Self::Http(c) => c.call(out).await,
            Self::Ws(c) => c.call(out).await,
            Self::Stdio(c) => c.call(out).await,
        }
    }

    async fn close(self) {
        match self {
            Self::Http(c) => c.close().await,
            Self::Ws(c) => (*c).close().await,
            Self::Stdio(_) => {}
        }
    }
}

/// How to open each virtual client's connection.
#[derive(Clone)]
enum Opener {
    Http(Arc<http::Endpoint>),
    Ws { url: String },
    Stdio(stdio::StdioConn),
}

impl Opener {
    async fn open(&self, era: Era) -> Result<Conn, Failure> {
        match self {
            Self::Http(endpoint) => Ok(Conn::Http(http::HttpConn::open(endpoint, era).await?)),
            Self::Ws { url } => Ok(Conn::Ws(Box::new(ws::WsConn::open(url, era).await?))),
            Self::Stdio(c) => Ok(Conn::Stdio(c.clone())),
        }
    }
}

/// Sets up the target: the opener, the spawned stdio server if any, and the PID to watch.
async fn prepare(
    args: &BenchArgs,
    target: &Target,
) -> anyhow::Result<(Opener, Option<stdio::StdioServer>, Option<u32>)> {
    Ok(match target {
        Target::Http(url) => (Opener::Http(http::Endpoint::resolve(url, &args.headers).await?), None, args.pid),
        Target::Ws(url) => (Opener::Ws { url: url.clone() }, None, args.pid),
        Target::Stdio(argv) => {
            let server = stdio::StdioServer::spawn(argv, args.era).await?;
            let pid = args.pid.or(server.pid());
            (Opener::Stdio(server.conn()), Some(server), pid)
        }
        Target::ScriptedLlm(_) => anyhow::bail!("--scripted-llm serves a model; it is not a load target"),
    })
}

async fn load(args: &BenchArgs, target: &Target) -> anyhow::Result<Report> {
    let (opener, server, pid) = prepare(args, target).await?;
    let messages = Arc::new(Messages::new(args.scenario.clone(), args.era));
    let live = Arc::new(Live::default());
    let duration = match (args.duration, args.requests) {
        (Some(d), _) => {
            Some(Duration::try_from_secs_f64(d).context("--duration must be a positive number of seconds")?)
        }
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let timeout =
        Duration::try_from_secs_f64(args.timeout).context("--timeout must be a positive number of seconds")?;
    // Every virtual client connects (and opens its session) before the clock starts.
    let mut conns = Vec::with_capacity(args.connections);
    let mut setup = Stats::new();
    let opened = futures_util::future::join_all((0..args.connections).map(|_| opener.open(args.era))).await;
    for c in opened {
        match c {
            Ok(c) => conns.push(c),
            Err(f) => setup.fail(Failure::new(format!("setup: {}", f.kind), f.detail)),
        }
    }
    let usage_start = pid.and_then(procstat::sample);
    let machine_start = (procstat::sample(std::process::id()), procstat::machine_busy_ticks());
    let start = Instant::now();
    let budget = Arc::new(Budget::new(duration.map(|d| start + d), args.requests));
    let interval = args.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(args.connections as f64 / r));
    let clients = conns.len() as u64;
    let mut tasks = Vec::with_capacity(conns.len());
    for (index, conn) in conns.into_iter().enumerate() {
        let ctx = Worker {
            messages: Arc::clone(&messages),
            live: Arc::clone(&live),
            budget: Arc::clone(&budget),
            first_id: index as u64 + 1,
            stride: clients,
            interval,
            timeout,
            opener: opener.clone(),
            era: args.era,
        };
        tasks.push(tokio::spawn(ctx.run(conn, start)));
    }
    let progress = Progress::start(args, duration, &live, pid);
    let mut total = setup;
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(s),
            Err(e) => total.fail(Failure::new("client panicked", e.to_string())),
        }
    }
    let elapsed = start.elapsed();
    let peak = progress.finish().await;
    let usage_end = pid.and_then(procstat::sample);
    let machine_end = (procstat::sample(std::process::id()), procstat::machine_busy_ticks());
    let machine = match (machine_start, machine_end, usage_start, usage_end) {
        ((Some(c0), Some(b0)), (Some(c1), Some(b1)), Some(s0), Some(s1)) => {
            let client = procstat::cpu_seconds(&c0, &c1);
            let other =
                (procstat::ticks_to_seconds(b1.saturating_sub(b0)) - client - procstat::cpu_seconds(&s0, &s1)).max(0.0);
            Some(MachineUsage {
                client_cpu_seconds: client,
                other_cpu_seconds: other,
                other_cpu_percent: 100.0 * other / elapsed.as_secs_f64().max(1e-9),
            })
        }
        _ => None,
    };
    let server_usage = match (usage_start, usage_end) {
        (Some(s), Some(e)) => Some(ServerUsage {
            pid: pid.unwrap_or_default(),
            rss_start_kib: s.rss_kib,
            rss_end_kib: e.rss_kib,
            rss_peak_kib: peak.max(e.rss_kib).max(s.rss_kib),
            cpu_seconds: procstat::cpu_seconds(&s, &e),
            cpu_percent: procstat::cpu_percent(&s, &e),
        }),
        _ => None,
    };
    if let Some(server) = server {
        server.stop().await;
    }
    Ok(Report::new(args, target, &total, elapsed, server_usage, machine, None))
}

/// Opens `n` legacy sessions and keeps them idle while the server's memory is read.
async fn idle_sessions(args: &BenchArgs, target: &Target, n: u64) -> anyhow::Result<Report> {
    if args.era != Era::Legacy {
        anyhow::bail!("--idle-sessions opens legacy sessions: add --era legacy");
    }
    let Target::Http(url) = target else {
        anyhow::bail!("--idle-sessions needs an HTTP target (--url)");
    };
    let endpoint = http::Endpoint::resolve(url, &args.headers).await?;
    let before = args.pid.and_then(procstat::sample);
    let start = Instant::now();
    let mut stats = Stats::new();
    // `--connections` workers, each on its own connection, open the sessions one after another;
    // a session is not tied to the connection that opened it.
    let mut workers = Vec::with_capacity(args.connections);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let opening = (0..args.connections).map(|_| {
        let (endpoint, next) = (Arc::clone(&endpoint), Arc::clone(&next));
        async move {
            let mut mine = Vec::new();
            let mut stats = Stats::new();
            let mut link = match http::Link::connect(&endpoint).await {
                Ok(link) => link,
                Err(f) => {
                    stats.fail(f);
                    return (None, mine, stats);
                }
            };
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let t0 = Instant::now();
                match http::Session::open(&mut link).await {
                    Ok(session) => {
                        stats.ok(t0.elapsed());
                        mine.push(session);
                    }
                    Err(f) => stats.fail(f),
                }
            }
            (Some(link), mine, stats)
        }
    });
    for (link, mine, s) in futures_util::future::join_all(opening).await {
        workers.extend(link.map(|link| (link, mine)));
        stats.merge(s);
    }
    let opened = workers.iter().map(|(_, mine)| mine.len() as u64).sum();
    let elapsed = start.elapsed();
    // Let the server settle (allocator, buffers) before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = args.pid.and_then(procstat::sample);
    let idle = IdleReport {
        requested: n,
        opened,
        rss_before_kib: before.map(|s| s.rss_kib),
        rss_after_kib: after.map(|s| s.rss_kib),
    };
    futures_util::future::join_all(workers.iter_mut().map(|(link, mine)| async move {
        for session in mine.iter() {
            session.close(link).await;
        }
    }))
    .await;
    Ok(Report::new(args, target, &stats, elapsed, None, None, Some(idle)))
}

/// One virtual client's loop.
struct Worker {
    messages: Arc<Messages>,
    live: Arc<Live>,
    budget: Arc<Budget>,
    first_id: u64,
    stride: u64,
    interval: Option<Duration>,
    timeout: Duration,
    opener: Opener,
    era: Era,
}

impl Worker {
    async fn run(self, mut conn: Conn, start: Instant) -> Stats {
        let mut stats = Stats::new();
        let mut id = self.first_id;
        // Open loop: request k is due at start + k·interval, offset per client so they spread.
        let mut due = self.interval.map(|i| start + i.mul_f64(self.first_id as f64 / self.stride as f64));
        while self.budget.take() {
            let sent = match (due, self.interval) {
                (Some(at), Some(i)) => {
                    if self.budget.deadline().is_some_and(|d| at >= d) {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    due = Some(at + i);
                    at
                }
                _ => Instant::now(),
            };
            let out = self.messages.request(id);
            let out_id = out.id;
            id += self.stride;
            let result = match tokio::time::timeout(self.timeout, conn.call(out)).await {
                Ok(Ok(reply)) => self.messages.check(out_id, &reply),
                Ok(Err(f)) => Err(f),
                Err(_) => Err(Failure::new("timeout", format!("no reply within {:?}", self.timeout))),
            };
            match result {
                Ok(()) => {
                    stats.ok(sent.elapsed());
                    self.live.ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(f) => {
                    let broken = matches!(f.kind.as_str(), "timeout" | "closed" | "io");
                    stats.fail(f);
                    self.live.failed.fetch_add(1, Ordering::Relaxed);
                    // A timed-out or broken connection is not reused: the reply may still arrive.
                    if broken && !matches!(conn, Conn::Stdio(_)) {
                        conn.close().await;
                        match self.opener.open(self.era).await {
                            Ok(c) => conn = c,
                            Err(f) => {
                                stats.fail(Failure::new(format!("setup: {}", f.kind), f.detail));
                                return stats;
                            }
                        }
                    }
                }
            }
        }
        conn.close().await;
        stats
    }
}

/// The progress bar (on stderr, only when it is a terminal) and the RSS sampler.
struct Progress {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<u64>,
}

impl Progress {
    fn start(args: &BenchArgs, duration: Option<Duration>, live: &Arc<Live>, pid: Option<u32>) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let live = Arc::clone(live);
        let bar = std::io::stderr().is_terminal().then(|| progress_bar(duration, args.requests));
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                if let Some(s) = pid.and_then(procstat::sample) {
                    peak = peak.max(s.rss_kib);
                }
                if let Some(bar) = &bar {
                    let ok = live.ok.load(Ordering::Relaxed);
                    let failed = live.failed.load(Ordering::Relaxed);
                    let position = match duration {
                        Some(_) => started.elapsed().as_millis() as u64,
                        None => ok + failed,
                    };
                    bar.set_position(position);
                    let rate = ok as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!("{ok} ok, {failed} failed, {rate:.0} req/s"));
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            peak
        });
        Self { stop, task }
    }

    /// Stops the display; returns the peak RSS seen (KiB, 0 if not sampled).
    async fn finish(self) -> u64 {
        let _ = self.stop.send(());
        self.task.await.unwrap_or(0)
    }
}

fn progress_bar(duration: Option<Duration>, requests: Option<u64>) -> indicatif::ProgressBar {
    let len = match duration {
        Some(d) => d.as_millis() as u64,
        None => requests.unwrap_or(0),
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    let template = if duration.is_some() { "{elapsed:>4} {wide_bar} {msg}" } else { "{pos}/{len} {wide_bar} {msg}" };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
