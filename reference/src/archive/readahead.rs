//! A reader that reads ahead on a thread of its own: while the caller writes out what it got, the
//! next chunks are read and decompressed (on 2 cores, restoring a 256 MiB archive spent as long
//! decompressing and reading as writing the files). Memory stays bounded: at most `DEPTH` chunks
//! wait, whatever the archive's size.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

/// Bytes a chunk holds at most.
pub const CHUNK: usize = 1 << 20;
/// Chunks read ahead at most.
const DEPTH: usize = 4;

pub struct ReadAhead {
    chunks: Option<Receiver<io::Result<Vec<u8>>>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    pub fn new(mut inner: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, rx) = mpsc::sync_channel(DEPTH);
        let thread = std::thread::spawn(move || loop {
            let mut chunk = vec![0u8; CHUNK];
            let mut n = 0;
            // Fill the chunk: a decoder may return a few bytes at a time.
            let result = loop {
                match inner.read(&mut chunk[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => {
                        n += k;
                        if n == CHUNK {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            chunk.truncate(n);
            let end = n == 0 || result.is_err();
            let sent = match result {
                // A chunk read before an error is delivered, then the error.
                Err(e) if n > 0 => tx.send(Ok(chunk)).and_then(|()| tx.send(Err(e))),
                Err(e) => tx.send(Err(e)),
                Ok(()) => tx.send(Ok(chunk)),
            };
            // The reader went away, or nothing is left to read.
            if sent.is_err() || end {
                return;
            }
        });
        ReadAhead {
            chunks: Some(rx),
            current: Vec::new(),
            at: 0,
            done: false,
            thread: Some(thread),
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let next = self.chunks.as_ref().and_then(|rx| rx.recv().ok());
            match next {
                Some(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => {
                    self.done = true;
                    return Err(io::Error::other("the archive reader stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    /// Stops the thread: with the receiver gone its next send fails and it returns.
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data` a few bytes at a time, then fails if `fail` is set.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(io::Error::other("broken"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(7777).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data() -> Vec<u8> {
        (0..(3 * CHUNK + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect()
    }

    #[test]
    fn gives_back_every_byte_in_order() {
        let mut r = ReadAhead::new(Box::new(Trickle {
            data: data(),
            at: 0,
            fail: false,
        }));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert!(out == data());
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let mut r = ReadAhead::new(Box::new(Trickle {
            data: data(),
            at: 0,
            fail: true,
        }));
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.to_string(), "broken");
        assert!(out == data());
    }

    #[test]
    fn dropped_early_it_stops_its_thread() {
        let mut r = ReadAhead::new(Box::new(Trickle {
            data: data(),
            at: 0,
            fail: false,
        }));
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        drop(r); // joins the thread; a hang here fails the test by timeout
    }
}
