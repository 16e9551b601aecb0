//! Transports: how frames get on and off the wire. Each transport file exposes its config and
//! an implementation of [`FrameReader`]/[`FrameWriter`]; framing details stay private.
//!
//! | transport | module | use it when |
//! | --- | --- | --- |
//! | stdio | [`stdio`] | the client launches the server as a child process (desktop apps, IDEs) |
//!
//! HTTP serving (Streamable HTTP, HTTP+SSE, WebSocket) is part of the server: `server::http`.

#[cfg(feature = "stdio")]
pub mod stdio;
pub mod tap;

use std::future::Future;
use std::io;

/// One frame as read.
#[derive(Debug)]
pub enum ReadFrame {
    /// A complete message.
    Message(Vec<u8>),
    /// A message over the size limit, discarded; the value is how many bytes it had.
    TooLarge(usize),
}

/// Produces inbound frames.
pub trait FrameReader: Send + 'static {
    /// The next frame, or `None` at end of input. Need not be cancel-safe: the engine reads
    /// from a task of its own.
    fn read_frame(&mut self) -> impl Future<Output = io::Result<Option<ReadFrame>>> + Send;
}

/// Consumes outbound frames.
pub trait FrameWriter: Send + 'static {
    /// Writes one frame (buffering is allowed until [`FrameWriter::flush`]).
    fn write_frame(&mut self, frame: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// Pushes buffered frames to the peer.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + Send;
    /// Flushes and closes.
    fn close(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}
