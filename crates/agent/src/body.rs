//! Streamed response bodies.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

/// A body fed by `produce` through a small channel (back-pressure: a slow reader slows it).
pub(crate) fn produced<F, Fut>(produce: F) -> Body
where
    F: FnOnce(mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let task = produce(tx);
    let handle = tokio::spawn(task);
    // When the body is dropped (the client left), the producer goes too.
    let abort = handle.abort_handle();
    let stream = futures_util::stream::unfold((rx, AbortOnDrop(abort)), |(mut rx, guard)| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), (rx, guard)))
    });
    Body::from_stream(stream)
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
