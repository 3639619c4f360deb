//! gzip written on every core, as pigz does: the input is cut into blocks, each deflated by a
//! worker thread (zlib-rs) into raw deflate ended by a sync flush (byte aligned, not final), the
//! last one finished; written in order after one gzip header, followed by the CRC-32 of the whole
//! (the blocks' CRCs combined) and its length. The result is ONE gzip member, so every gzip reader
//! reads it, those that stop after the first member too.
//!
//! A block that deflate cannot shrink (a trial on its head saves under 10%) is stored: deflate's
//! match search costs the most on exactly such data (random pages: ~90 MiB/s a core for 0.2%
//! saved), while storing copies. Every other block is deflated at level 1.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Strategy};

/// Input per block: large enough that the per-block costs (a flush marker, a fresh window) vanish.
const BLOCK: usize = 1 << 20;
/// The head of a block deflated to tell whether the whole is worth deflating.
const TRIAL: usize = 64 << 10;
/// A trial whose output keeps more than this share of its input stores the block.
const STORE_ABOVE: f64 = 0.9;

struct Job {
    index: u64,
    data: Vec<u8>,
    last: bool,
}

struct Done {
    index: u64,
    deflated: io::Result<Vec<u8>>,
    crc: u32,
    len: usize,
}

/// A gzip writer deflating on `workers` threads; [`ParGzip::finish`] writes the trailer.
pub struct ParGzip<W: Write> {
    /// Taken by [`ParGzip::finish`].
    out: Option<W>,
    buffer: Vec<u8>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    /// Blocks sent and not yet written; at most `2 * workers` (bounded memory).
    in_flight: usize,
    sent: u64,
    next_to_write: u64,
    waiting: BTreeMap<u64, Done>,
    crc: u32,
    len: u64,
}

impl<W: Write> ParGzip<W> {
    pub fn new(mut out: W, workers: usize) -> io::Result<ParGzip<W>> {
        // Magic, deflate, no flags, no mtime, no extra flags, OS unix.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])?;
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..workers.max(1))
            .map(|_| {
                let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
                std::thread::spawn(move || work(&job_rx, &done_tx))
            })
            .collect();
        Ok(ParGzip {
            out: Some(out),
            buffer: Vec::with_capacity(BLOCK),
            jobs: Some(jobs),
            done,
            workers,
            in_flight: 0,
            sent: 0,
            next_to_write: 0,
            waiting: BTreeMap::new(),
            crc: 0,
            len: 0,
        })
    }

    fn send(&mut self, last: bool) -> io::Result<()> {
        while self.in_flight >= 2 * self.workers.len() {
            self.write_one()?;
        }
        let data = std::mem::replace(&mut self.buffer, Vec::with_capacity(BLOCK));
        let job = Job {
            index: self.sent,
            data,
            last,
        };
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| io::Error::other("the gzip workers stopped"))?;
        self.sent += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits for the next block in order and writes it.
    fn write_one(&mut self) -> io::Result<()> {
        let done = loop {
            if let Some(d) = self.waiting.remove(&self.next_to_write) {
                break d;
            }
            let d = self
                .done
                .recv()
                .map_err(|_| io::Error::other("a gzip worker stopped"))?;
            self.waiting.insert(d.index, d);
        };
        self.out().write_all(&done.deflated?)?;
        self.crc = zlib_rs::crc32::crc32_combine(self.crc, done.crc, done.len as u64);
        self.len += done.len as u64;
        self.next_to_write += 1;
        self.in_flight -= 1;
        Ok(())
    }

    /// Compresses what is buffered as the final block, writes every block and the trailer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send(true)?;
        while self.in_flight > 0 {
            self.write_one()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.to_le_bytes());
        // ISIZE: the length modulo 2^32, as RFC 1952 says.
        trailer[4..].copy_from_slice(&(self.len as u32).to_le_bytes());
        self.out().write_all(&trailer)?;
        self.stop();
        Ok(self.out.take().expect("finished once"))
    }

    fn out(&mut self) -> &mut W {
        self.out.as_mut().expect("not finished")
    }

    /// Ends the workers: no more jobs, then each one finishes what it holds and returns.
    fn stop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl<W: Write> Drop for ParGzip<W> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<W: Write> Write for ParGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == BLOCK {
            self.send(false)?;
        }
        Ok(n)
    }

    /// Blocks are written as they are done; a flush does not cut a block short.
    fn flush(&mut self) -> io::Result<()> {
        self.out().flush()
    }
}

fn work(jobs: &Mutex<Receiver<Job>>, done: &Sender<Done>) {
    let raw = |level| DeflateConfig {
        level,
        window_bits: -15,
        strategy: Strategy::Default,
        ..DeflateConfig::default()
    };
    let (mut fast, mut stored) = (
        Deflate::new_with_config(raw(1)),
        Deflate::new_with_config(raw(0)),
    );
    let mut trial_out = vec![0u8; zlib_rs::compress_bound(TRIAL)];
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let head = &job.data[..job.data.len().min(TRIAL)];
        let store = !head.is_empty()
            && deflate(&mut fast, head, &mut trial_out, DeflateFlush::SyncFlush)
                .is_ok_and(|n| n as f64 > STORE_ABOVE * head.len() as f64);
        let d = if store { &mut stored } else { &mut fast };
        let flush = if job.last {
            DeflateFlush::Finish
        } else {
            DeflateFlush::SyncFlush
        };
        let mut out = vec![0u8; zlib_rs::compress_bound(job.data.len()) + 64];
        let deflated = deflate(d, &job.data, &mut out, flush).map(|n| {
            out.truncate(n);
            out
        });
        let result = Done {
            index: job.index,
            deflated,
            crc: zlib_rs::crc32::crc32(0, &job.data),
            len: job.data.len(),
        };
        if done.send(result).is_err() {
            return;
        }
    }
}

/// `input` deflated into `out` (raw, a fresh window) until `flush` completes; the bytes written.
fn deflate(
    d: &mut Deflate,
    input: &[u8],
    out: &mut [u8],
    flush: DeflateFlush,
) -> io::Result<usize> {
    d.reset();
    let (mut read, mut written) = (0usize, 0usize);
    loop {
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .compress(&input[read..], &mut out[written..], flush)
            .map_err(|e| io::Error::other(format!("deflate: {}", e.as_str())))?;
        read += (d.total_in() - in_before) as usize;
        written += (d.total_out() - out_before) as usize;
        let complete = match flush {
            DeflateFlush::Finish => status == zlib_rs::Status::StreamEnd,
            // A sync flush is complete when all input is in and output space was left over.
            _ => read == input.len() && written < out.len(),
        };
        if complete {
            return Ok(written);
        }
        if written == out.len() {
            return Err(io::Error::other("deflate: output larger than its bound"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(data: &[u8], workers: usize) -> Vec<u8> {
        let mut z = ParGzip::new(Vec::new(), workers).unwrap();
        // Odd-sized writes: blocks are cut by the writer, not by the caller.
        for chunk in data.chunks(100_003) {
            z.write_all(chunk).unwrap();
        }
        z.finish().unwrap()
    }

    /// Random bytes (stored), runs and text (deflated), across several blocks.
    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..(BLOCK * 3 / 2) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        data.extend(std::iter::repeat_n(0u8, BLOCK + 7));
        for i in 0..60_000 {
            data.extend(format!("{{\"id\":{i},\"name\":\"user{}\"}}\n", i * 7919 % 1000).bytes());
        }
        data
    }

    #[test]
    fn one_member_that_a_single_member_reader_reads_whole() {
        let data = sample();
        for workers in [1, 2, 3] {
            let gz = gzip(&data, workers);
            // flate2's GzDecoder stops after the first member: all data means one member.
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(
                back == data,
                "{workers} workers: the data came back changed"
            );
            assert!(
                gz.len() < data.len(),
                "the runs and text were not compressed"
            );
        }
    }

    #[test]
    fn gzip_reads_it_and_checks_its_crc() {
        let data = sample();
        let gz = gzip(&data, 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gz");
        std::fs::write(&path, &gz).unwrap();
        // gzip -t verifies the CRC and the length of the whole (and fails on trailing garbage).
        let out = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .output()
            .expect("gzip on the host (the sandbox needs it too)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let gz = gzip(&[], 2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn incompressible_blocks_are_stored_not_grown_much() {
        let data: Vec<u8> = sample()[..BLOCK].to_vec();
        let gz = gzip(&data, 2);
        // Stored: 5 bytes per 64 KiB block, plus header, trailer and the flush marker.
        assert!(gz.len() < data.len() + data.len() / 1000 + 64);
    }
}
