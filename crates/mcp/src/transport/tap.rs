//! A wire log: wraps a frame reader and writer and appends every frame, in both directions, to
//! a JSON Lines file (`{"dir":"in"|"out","msg":…}`, or `"raw"` for input that is not JSON).
//! For debugging and for tests that check every emitted message against the schema.

use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use super::{FrameReader, FrameWriter, ReadFrame};

/// The shared log file.
#[derive(Debug, Clone)]
pub struct WireLog {
    file: Arc<Mutex<File>>,
}

impl WireLog {
    /// Creates (truncates) the log at `path`.
    pub fn create(path: &std::path::Path) -> io::Result<Self> {
        Ok(Self { file: Arc::new(Mutex::new(File::create(path)?)) })
    }

    /// Appends one frame; `dir` is `in` or `out`.
    pub fn record(&self, dir: &str, frame: &[u8]) {
        let line = match std::str::from_utf8(frame).ok().and_then(|s| serde_json::from_str::<&RawValue>(s).ok()) {
            Some(raw) => format!("{{\"dir\":\"{dir}\",\"msg\":{}}}\n", raw.get()),
            None => format!(
                "{{\"dir\":\"{dir}\",\"raw\":{}}}\n",
                serde_json::Value::String(String::from_utf8_lossy(frame).into_owned())
            ),
        };
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
            let _ = f.flush();
        }
    }

    /// Wraps a reader.
    pub fn reader<R: FrameReader>(&self, inner: R) -> TapReader<R> {
        TapReader { inner, log: self.clone() }
    }

    /// Wraps a writer.
    pub fn writer<W: FrameWriter>(&self, inner: W) -> TapWriter<W> {
        TapWriter { inner, log: self.clone() }
    }
}

/// A reader that logs what it reads.
#[derive(Debug)]
pub struct TapReader<R> {
    inner: R,
    log: WireLog,
}

impl<R: FrameReader> FrameReader for TapReader<R> {
    async fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        let frame = self.inner.read_frame().await?;
        match &frame {
            Some(ReadFrame::Message(bytes)) => self.log.record("in", bytes),
            Some(ReadFrame::TooLarge(n)) => self.log.record("in", format!("\"<{n} bytes over the limit>\"").as_bytes()),
            None => {}
        }
        Ok(frame)
    }
}

/// A writer that logs what it writes.
#[derive(Debug)]
pub struct TapWriter<W> {
    inner: W,
    log: WireLog,
}

impl<W: FrameWriter> FrameWriter for TapWriter<W> {
    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.log.record("out", frame);
        self.inner.write_frame(frame).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().await
    }

    async fn close(&mut self) -> io::Result<()> {
        self.inner.close().await
    }
}
