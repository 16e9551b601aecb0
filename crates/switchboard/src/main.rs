//! `switchboard`: the command-line entry point. Parses flags, wires the pieces, reports errors
//! once, and maps them to exit codes.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use switchboard::cli::{Args, Command, ConfigCommand, KeysCommand, ServeArgs};
use switchboard::{configured, logging, serve};

/// mimalloc serves the request path's many small, short-lived allocations faster than glibc
/// malloc (BENCHMARKS.md has the numbers); `--no-default-features` keeps the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    // A client command's output is the result; the server's stderr and our info logs would
    // drown it, so they show only when asked for.
    let level = match (&args.command, args.log_level.as_str()) {
        (Command::Client(_), "info") => "warn",
        (_, level) => level,
    };
    // Declared before the runtime, so it is dropped (and flushes traces) after it.
    let _telemetry = logging::init(level, args.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if let Command::Client(client) = args.command {
        return match runtime.block_on(switchboard::client::run(client)) {
            Ok(()) => ExitCode::SUCCESS,
            // A closed pipe (`… | head`) is the reader's choice, not a failure.
            Err(switchboard::client::CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                ExitCode::SUCCESS
            }
            Err(e) => {
                if !matches!(e, switchboard::client::CliError::ToolError) {
                    eprintln!("switchboard client: {e}");
                }
                ExitCode::from(e.exit_code())
            }
        };
    }
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Serve(serve) => run_serve(serve).await,
        Command::Config(command) => run_config(command).await,
        Command::Keys(KeysCommand::New { id }) => switchboard::keys::print_new(&id),
        Command::Audit(command) => switchboard::audit::run(command).await,
        Command::Migrate(at) => switchboard::migrate::run(at).await,
        Command::Bench(bench) => switchboard::bench::run(bench).await,
        // Handled in `main`, which maps its errors to their own exit codes.
        Command::Client(_) => Ok(()),
        Command::Chat(chat) => switchboard::chat::run(chat).await,
    }
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let limits = args.limits.to_limits();
    let mut callers = serve::Callers::anonymous();
    let mut guardrails = None;
    let mut upstreams = None;
    let mut chat = None;
    let mut help = None;
    let file = match (&args.config, &args.mcp_servers) {
        (Some(path), _) => Some((path, configured::ConfigFormat::Yaml)),
        (None, Some(path)) => Some((path, configured::ConfigFormat::McpServers)),
        (None, None) => None,
    };
    // The demonstration server takes --redis-url alone (a config names its own Redis).
    let demo_redis = match args.redis_url.as_deref() {
        Some(url) if file.is_none() && args.demo && !url.is_empty() => {
            switchboard_gateway::config::check_redis_url(url).map_err(anyhow::Error::msg)?;
            let timeout = std::time::Duration::from_millis(switchboard_gateway::shared::DEFAULT_REDIS_TIMEOUT_MS);
            Some(switchboard_gateway::shared::Redis::connect(
                url,
                switchboard_gateway::shared::DEFAULT_KEY_PREFIX,
                timeout,
            )?)
        }
        _ => None,
    };
    let (server, listen, stdio) = match (file, args.demo) {
        (Some((path, format)), _) => {
            let configured::Configured {
                server,
                config,
                callers: configured,
                guardrails: rails,
                chat: routes,
                upstreams: running,
                ..
            } = configured::server(path, format, args.data_dir.as_deref(), args.redis_url.as_deref(), limits).await?;
            callers = configured;
            guardrails = Some(rails);
            upstreams = Some(running);
            chat = routes;
            let listen = args.listen.clone().or(config.server.listen.clone());
            let stdio = args.stdio || (args.listen.is_none() && config.server.stdio);
            // Flags choose the transports when given; otherwise the config does.
            let (listen, stdio) = if args.stdio && args.listen.is_none() { (None, true) } else { (listen, stdio) };
            if !stdio {
                // Printed once the address is bound (a `:0` port is known only then).
                help = Some((path.clone(), callers.required));
            }
            (server, listen, stdio)
        }
        (None, true) if args.demo_basic => (
            serve::basic_demo_server("switchboard-demo", limits, demo_redis.as_ref())?,
            args.listen.clone(),
            args.stdio,
        ),
        (None, true) => {
            (serve::demo_server("switchboard-demo", limits, demo_redis.as_ref())?, args.listen.clone(), args.stdio)
        }
        (None, false) => {
            bail!("nothing to serve: pass --config FILE (e.g. examples/shop/shop.yaml), --mcp-servers FILE or --demo")
        }
    };
    if !stdio && listen.is_none() {
        bail!("choose a transport: --stdio and/or --listen ADDR (or server.listen in the config)");
    }
    let draining = tokio_util::sync::CancellationToken::new();
    serve::stop_on_signal(&server, draining.clone(), std::time::Duration::from_secs(args.http.drain_delay));
    let ops = switchboard::ops::Ops {
        guardrails: guardrails.clone(),
        upstreams: upstreams.clone(),
        draining,
        keys: callers.http.clone(),
        sessions: Default::default(),
    };
    // Legacy sessions go to the config's Redis, or the demonstration server's.
    let redis = guardrails.as_ref().and_then(|g| g.redis().cloned()).or(demo_redis);
    let served = match (listen, stdio) {
        (Some(addr), false) => {
            let announce = |local: std::net::SocketAddr| {
                if let Some((path, keyed)) = &help {
                    configured::print_connect_help(path, Some(&local.to_string()), *keyed);
                }
            };
            let mounts = serve::Mounts { ops: Some(ops), chat, redis };
            serve::serve_http(&server, &addr, &args.http, &callers, mounts, args.wire_log.as_deref(), announce).await
        }
        (None, _) => serve::serve_stdio(&server, &callers, args.wire_log.as_deref()).await,
        (Some(addr), true) => {
            // Both: the process lives as long as stdin is open (the usual stdio contract).
            let mounts = serve::Mounts { ops: Some(ops), chat, redis };
            let http = serve::serve_http(&server, &addr, &args.http, &callers, mounts, None, |_| {});
            let stdio = async {
                let result = serve::serve_stdio(&server, &callers, args.wire_log.as_deref()).await;
                server.shutdown();
                result
            };
            let (a, b) = tokio::join!(http, stdio);
            a.and(b)
        }
    };
    // Upstream servers' processes end with us (their whole process groups).
    if let Some(upstreams) = upstreams {
        upstreams.shutdown().await;
    }
    // Every answered call queued its audit row before answering: write them all before exiting.
    if let Some(guardrails) = guardrails {
        if !guardrails.close(AUDIT_FLUSH_LIMIT).await {
            tracing::error!(target: "switchboard", "audit rows were still queued when the flush time ran out");
        }
    }
    served
}

/// `config check --upstreams`: lists every upstream as `serve` would and reports clashes.
async fn check_upstreams(config: &switchboard_gateway::Config) -> anyhow::Result<()> {
    let data_dir = config.resolve(config.server.data_dir.as_deref().unwrap_or(std::path::Path::new("data")));
    let upstreams = switchboard_gateway::Upstreams::new();
    let checked = switchboard_gateway::catalog::check_upstreams(config, &data_dir, &upstreams).await;
    upstreams.shutdown().await;
    for (name, status) in checked.map_err(|e| anyhow::anyhow!("{e}"))? {
        match status {
            switchboard_gateway::source::upstream::Status::Down(reason) => {
                eprintln!("upstream {name}: down ({reason}); its names were not checked")
            }
            other => eprintln!("upstream {name}: {}", other.as_str()),
        }
    }
    Ok(())
}

/// How long shutdown waits for queued audit rows to be written.
const AUDIT_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn run_config(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file, upstreams } => {
            let config = switchboard::config_file::load(&file)?;
            if upstreams && !config.upstreams.is_empty() {
                check_upstreams(&config).await?;
            }
            eprintln!(
                "{}: ok ({} sources, {} tools, {} resources, {} prompts)",
                file.display(),
                config.sources.len(),
                config.tools.len(),
                config.resources.len() + config.resource_templates.len(),
                config.prompts.len()
            );
            Ok(())
        }
        ConfigCommand::Schema => {
            let schema = serde_json::to_string_pretty(&switchboard_gateway::config::schema())?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error.
            let _ = writeln!(out, "{schema}");
            Ok(())
        }
    }
}
