//! Newline-delimited JSON-RPC over a byte stream: the stdio transport (and any pipe or socket
//! that frames the same way).
//!
//! Each message is one line of UTF-8 JSON with no embedded newline. Oversized lines are
//! discarded as they stream in, never buffered whole. Nothing but MCP messages is written.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

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
///
/// Each has a thread of its own: tokio's `Stdin`/`Stdout` hand every read, write and flush to
/// the blocking pool one at a time, which caps a pipelining client at a few thousand messages
/// a second. Here a reader thread fills 64 KiB chunks while the connection works on earlier
/// ones, and a writer thread writes everything queued in one call and flushes only when
/// nothing more is waiting.
pub fn stdio(max_message_bytes: usize) -> (LineReader<StdinReader>, StdoutWriter) {
    (LineReader::new(StdinReader::spawn(), max_message_bytes), StdoutWriter::spawn())
}

/// How many read chunks may wait for the connection before the reader thread pauses.
const READ_AHEAD: usize = 4;
/// How many written batches may wait for the writer thread before writers wait.
const WRITE_BEHIND: usize = 16;
/// Bytes per read from stdin.
const CHUNK: usize = 64 * 1024;

/// Stdin, read on a thread of its own (see [`stdio`]).
#[derive(Debug)]
pub struct StdinReader {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
}

impl StdinReader {
    /// Starts the reader thread. It stops at end of input, on a read error, or when this
    /// reader is dropped (after its next read returns).
    pub fn spawn() -> Self {
        let (tx, chunks) = tokio::sync::mpsc::channel(READ_AHEAD);
        let started = std::thread::Builder::new().name("mcp-stdin".into()).spawn(move || {
            use std::io::Read as _;
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut chunk = vec![0; CHUNK];
                let sent = match stdin.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        tx.blocking_send(Ok(chunk))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        let chunks = match started {
            Ok(_) => chunks,
            // No thread: the first read reports why.
            Err(e) => {
                let (tx, rx) = tokio::sync::mpsc::channel(1);
                let _ = tx.try_send(Err(e));
                rx
            }
        };
        Self { chunks, current: Vec::new(), at: 0 }
    }
}

impl tokio::io::AsyncRead for StdinReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let available = std::task::ready!(AsyncBufRead::poll_fill_buf(self.as_mut(), cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        AsyncBufRead::consume(self, n);
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for StdinReader {
    fn poll_fill_buf(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.at == this.current.len() {
            match std::task::ready!(this.chunks.poll_recv(cx)) {
                Some(Ok(chunk)) => {
                    this.current = chunk;
                    this.at = 0;
                }
                Some(Err(e)) => return std::task::Poll::Ready(Err(e)),
                // End of input.
                None => return std::task::Poll::Ready(Ok(&[])),
            }
        }
        std::task::Poll::Ready(Ok(&this.current[this.at..]))
    }

    fn consume(self: std::pin::Pin<&mut Self>, amount: usize) {
        let this = self.get_mut();
        this.at = (this.at + amount).min(this.current.len());
    }
}

/// What the writer thread is asked to do.
enum WriteOp {
    Bytes(Vec<u8>),
    Close(tokio::sync::oneshot::Sender<io::Result<()>>),
}

/// Stdout, written on a thread of its own (see [`stdio`]). Frames collect in a buffer that
/// goes to the thread on each flush.
#[derive(Debug)]
pub struct StdoutWriter {
    ops: tokio::sync::mpsc::Sender<WriteOp>,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteOp::Bytes(b) => write!(f, "Bytes({})", b.len()),
            WriteOp::Close(_) => f.write_str("Close"),
        }
    }
}

impl StdoutWriter {
    /// Starts the writer thread. It stops on [`FrameWriter::close`], when this writer is
    /// dropped (after writing what was sent), or on a write error (later writes then fail).
    pub fn spawn() -> Self {
        let (ops, mut rx) = tokio::sync::mpsc::channel::<WriteOp>(WRITE_BEHIND);
        let _ = std::thread::Builder::new().name("mcp-stdout".into()).spawn(move || {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            while let Some(op) = rx.blocking_recv() {
                let mut next = Some(op);
                // Write everything queued, then flush once.
                while let Some(op) = next.take() {
                    match op {
                        WriteOp::Bytes(bytes) => {
                            if stdout.write_all(&bytes).is_err() {
                                return;
                            }
                            next = rx.try_recv().ok();
                        }
                        WriteOp::Close(done) => {
                            let _ = done.send(stdout.flush());
                            return;
                        }
                    }
                }
                if stdout.flush().is_err() {
                    return;
                }
            }
        });
        Self { ops, buffer: Vec::with_capacity(CHUNK) }
    }

    fn closed() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "stdout is closed")
    }
}

impl FrameWriter for StdoutWriter {
    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(frame);
        self.buffer.push(b'\n');
        if self.buffer.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.ops.send(WriteOp::Bytes(bytes)).await.map_err(|_| Self::closed())
    }

    async fn close(&mut self) -> io::Result<()> {
        self.flush().await?;
        let (done, written) = tokio::sync::oneshot::channel();
        self.ops.send(WriteOp::Close(done)).await.map_err(|_| Self::closed())?;
        // The thread answers once everything before the close is written and flushed.
        written.await.unwrap_or_else(|_| Err(Self::closed()))
    }
}
