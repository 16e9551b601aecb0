//! `switchboard`: the command-line entry point. Parses flags, wires the pieces, reports errors
//! once, and maps them to exit codes.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use switchboard::cli::{Args, Command, ServeArgs};
use switchboard::{logging, serve};

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(&args.log_level, args.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
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
    }
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    if !args.stdio && args.listen.is_none() {
        bail!("choose a transport: --stdio and/or --listen ADDR");
    }
    if !args.demo {
        bail!("nothing to serve: pass --demo to serve the built-in demonstration toolset");
    }
    let server = serve::demo_server("switchboard-demo", args.limits.to_limits())?;
    serve::stop_on_signal(&server);
    match (&args.listen, args.stdio) {
        (Some(addr), false) => serve::serve_http(&server, addr, &args.http, args.wire_log.as_deref()).await,
        (None, _) => serve::serve_stdio(&server, args.wire_log.as_deref()).await,
        (Some(addr), true) => {
            // Both: the process lives as long as stdin is open (the usual stdio contract).
            let http = serve::serve_http(&server, addr, &args.http, None);
            let stdio = async {
                let result = serve::serve_stdio(&server, args.wire_log.as_deref()).await;
                server.shutdown();
                result
            };
            let (a, b) = tokio::join!(http, stdio);
            a.and(b)
        }
    }
}
