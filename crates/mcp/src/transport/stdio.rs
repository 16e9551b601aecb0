//! Newline-delimited JSON-RPC over a byte stream: the stdio transport (and any pipe or socket
//! that frames the same way).
//!
//! Each message is one line of UTF-8 JSON with no embedded newline. Oversized lines are
//! discarded as they stream in, never buffered whole. Nothing but MCP messages is written.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

use super::{FrameReader, FrameWriter, ReadFrame};

/// Reads newline-delimited frames from any buffered reader.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max_bytes: usize,
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin + Send + 'static> LineReader<R> {
    /// Reads lines of at most `max_bytes` from `inner`.
    pub fn new(inner: R, max_bytes: usize) -> Self {
        Self { inner, max_bytes, line: Vec::new() }
    }
}

impl<R: AsyncBufRead + Unpin + Send + 'static> FrameReader for LineReader<R> {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        loop {
            self.line.clear();
            let mut seen = 0usize;
            let mut discarding = false;
            let mut complete = false;
            loop {
                let available = self.inner.fill_buf().await?;
                if available.is_empty() {
                    break;
                }
                let (chunk, consumed, end) = match available.iter().position(|&b| b == b'\n') {
                    Some(i) => (&available[..i], i + 1, true),
                    None => (available, available.len(), false),
                };
                seen += chunk.len();
                if !discarding {
                    if self.line.len() + chunk.len() > self.max_bytes {
                        discarding = true;
                        self.line.clear();
                    } else {
                        self.line.extend_from_slice(chunk);
                    }
                }
                self.inner.consume(consumed);
                if end {
                    complete = true;
                    break;
                }
            }
            if !complete && seen == 0 {
                return Ok(None);
            }
            if discarding {
                return Ok(Some(ReadFrame::TooLarge(seen)));
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                if !complete {
                    return Ok(None);
                }
                continue;
            }
            return Ok(Some(ReadFrame::Message(std::mem::take(&mut self.line))));
        }
    }
}

/// Writes newline-delimited frames to any writer, buffered.
#[derive(Debug)]
pub struct LineWriter<W: AsyncWrite> {
    inner: BufWriter<W>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> LineWriter<W> {
    /// Writes to `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner: BufWriter::with_capacity(64 * 1024, inner) }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> FrameWriter for LineWriter<W> {
    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.inner.write_all(frame).await?;
        self.inner.write_all(b"\n").await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().await
    }

    async fn close(&mut self) -> io::Result<()> {
        self.inner.flush().await?;
        self.inner.shutdown().await
    }
}

/// The process's stdin and stdout as a frame reader and writer.
pub fn stdio(max_message_bytes: usize) -> (LineReader<BufReader<tokio::io::Stdin>>, LineWriter<tokio::io::Stdout>) {
    (
        LineReader::new(BufReader::with_capacity(64 * 1024, tokio::io::stdin()), max_message_bytes),
        LineWriter::new(tokio::io::stdout()),
    )
}
