//! Log and trace setup: human-readable or JSON lines on stderr (stdout belongs to the protocol
//! on stdio), and — when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set — spans exported as OTLP protobuf over HTTP.
//! The exporter reads the other standard variables itself (`OTEL_SERVICE_NAME`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Flushes and stops trace export when dropped: keep it alive until `main` returns.
#[derive(Debug)]
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("switchboard: flushing traces: {e}");
            }
        }
    }
}

/// Installs the global subscriber. `level` is a filter directive such as `info` or
/// `switchboard=debug`; `SWITCHBOARD_LOG` overrides it for logs. Exported traces take `INFO`
/// spans and every guardrail's `DEBUG` span unless `SWITCHBOARD_TRACE` says otherwise.
pub fn init(level: &str, json: bool) -> Telemetry {
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let fmt = if json { fmt.json().with_filter(filter).boxed() } else { fmt.with_filter(filter).boxed() };
    let provider = otlp_provider();
    let otel = provider.as_ref().map(|p| {
        let filter = EnvFilter::try_from_env("SWITCHBOARD_TRACE")
            .unwrap_or_else(|_| EnvFilter::new("info,switchboard_gateway::policy=debug"));
        tracing_opentelemetry::layer().with_tracer(p.tracer("switchboard")).with_filter(filter)
    });
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::registry().with(fmt).with(otel).try_init();
    Telemetry(provider)
}

fn otlp_provider() -> Option<SdkTracerProvider> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return None;
    }
    // reqwest is built without a default TLS provider; the exporter's client needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("switchboard: OTLP trace export disabled: {e}");
            return None;
        }
    };
    // Reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    let mut resource = Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("switchboard");
    }
    Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}
