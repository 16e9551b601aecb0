//! The floor of a Rust HTTP proxy: hyper's HTTP/1 server in front of hyper-util's pooled client,
//! each request's body and headers forwarded to one upstream URL and its answer's back, with no
//! MCP work at all (no JSON parsed, no policy). What a gateway built on tokio and hyper pays
//! before it does anything of its own; `bench/gateway_floor.sh` sets it beside HAProxy and
//! Switchboard's gateway.
//!
//! Usage: `bare-proxy 127.0.0.1:PORT http://127.0.0.1:UPSTREAM/mcp`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The global allocator Switchboard's binary uses, so the comparison measures proxies, not
/// allocators.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Upstream = Client<HttpConnector, Full<Bytes>>;

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

async fn forward(client: Upstream, upstream: hyper::Uri, request: Request<Incoming>) -> std::io::Result<Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(other)?.to_bytes();
    let mut out = Request::builder().method(parts.method).uri(upstream);
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            out = out.header(name, value);
        }
    }
    let answer = client.request(out.body(Full::new(body)).map_err(other)?).await.map_err(other)?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map_err(other)?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-proxy LISTEN_ADDR UPSTREAM_URL");
        std::process::exit(2);
    };
    let upstream: hyper::Uri = upstream.parse().map_err(other)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new()).build(connector);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("forwarding http://{listen} to {upstream}");
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| forward(client.clone(), upstream.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
        });
    }
}
