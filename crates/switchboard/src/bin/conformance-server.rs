//! `conformance-server`: the fixture server the official MCP conformance suite and our interop
//! tests run against. Every tool, prompt and resource name the suite expects is served, built
//! with the SDK's public API only (see `switchboard_demo`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use switchboard::{logging, serve};
use switchboard_mcp::Limits;

/// Serve the conformance fixture.
#[derive(Debug, Parser)]
#[command(name = "conformance-server", version)]
struct Args {
    /// Serve over stdin/stdout instead of HTTP.
    #[arg(long)]
    stdio: bool,

    /// Serve Streamable HTTP at http://ADDR/mcp (and /sse, /ws).
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "ADDR")]
    listen: String,

    /// HTTP options.
    #[command(flatten)]
    http: switchboard::cli::HttpArgs,

    /// Append every frame to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    wire_log: Option<PathBuf>,

    /// Log filter for stderr.
    #[arg(long, default_value = "warn")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(&args.log_level, false);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conformance-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let server = serve::demo_server("switchboard-conformance", Limits::default(), None)?;
        serve::stop_on_signal(&server, Default::default(), std::time::Duration::ZERO);
        let callers = serve::Callers::anonymous();
        if args.stdio {
            serve::serve_stdio(&server, &callers, args.wire_log.as_deref()).await
        } else {
            serve::serve_http(
                &server,
                &args.listen,
                &args.http,
                &callers,
                Default::default(),
                args.wire_log.as_deref(),
                |_| {},
            )
            .await
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-server: {e:#}");
            ExitCode::from(1)
        }
    }
}
