//! Throughput measurement for bench binaries on a shared, noisy machine.
//!
//! Each figure is the median of several rounds, and the rounds of all figures are interleaved, so a burst
//! of load from a neighbour hits every figure alike instead of skewing one ratio. Bench binaries print
//! `name=value` lines; tests never assert on these numbers.

use std::time::Instant;

/// A named operation over `bytes` bytes per call.
pub struct Case<'a> {
    /// Printed as `<name>_mb_s`.
    pub name: &'static str,
    /// Bytes processed per call.
    pub bytes: usize,
    /// The operation.
    pub run: Box<dyn FnMut() + 'a>,
}

impl std::fmt::Debug for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Runs every case `rounds` times, interleaved, each round calling the case until `bytes_per_round`
/// bytes are processed; returns (name, median MB/s) in input order. 1 MB = 10^6 bytes.
pub fn throughput(
    cases: &mut [Case<'_>],
    rounds: usize,
    bytes_per_round: usize,
) -> Vec<(&'static str, f64)> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); cases.len()];
    // One untimed call each to warm caches and lazy initialisation.
    for case in cases.iter_mut() {
        (case.run)();
    }
    for _ in 0..rounds {
        for (case, s) in cases.iter_mut().zip(samples.iter_mut()) {
            let calls = bytes_per_round.div_ceil(case.bytes).max(1);
            let start = Instant::now();
            for _ in 0..calls {
                (case.run)();
            }
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            s.push((calls * case.bytes) as f64 / secs / 1e6);
        }
    }
    cases
        .iter()
        .zip(samples)
        .map(|(c, s)| (c.name, median(s)))
        .collect()
}

/// The command line every bench binary takes: `[--quick] [--rounds N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// Interleaved rounds per figure (the median is reported).
    pub rounds: usize,
    /// Bytes each case processes per round.
    pub bytes_per_round: usize,
    /// `--quick`: a short smoke run (3 rounds of 4 MiB), as the test command does.
    pub quick: bool,
}

impl BenchOptions {
    /// Parses the arguments after the program name; `name` is for the usage message.
    pub fn parse(name: &str, args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut opts = BenchOptions {
            rounds: 9,
            bytes_per_round: 256 << 20,
            quick: false,
        };
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => {
                    opts.quick = true;
                    opts.rounds = 3;
                    opts.bytes_per_round = 4 << 20;
                }
                "--rounds" => {
                    opts.rounds = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--rounds needs a positive number")?;
                }
                "-h" | "--help" => return Err(format!("usage: {name} [--quick] [--rounds N]")),
                other => return Err(format!("unknown argument `{other}` (try --help)")),
            }
        }
        Ok(opts)
    }
}

/// A byte buffer whose start is aligned to 4096 bytes.
///
/// On this project's machines (AMD EPYC, glibc) `memcpy` of 64 KiB runs at about 40 GB/s between
/// page-aligned buffers but at 1.8 GB/s when the destination sits 16 bytes off the source's alignment,
/// which heap buffers do by chance. Benchmarks that copy use these so that figures measure the code, not
/// where the allocator happened to put a buffer.
#[derive(Clone)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zero bytes, page-aligned.
    pub fn zeroed(len: usize) -> Self {
        let storage = vec![0u8; len + 4096];
        let start = (4096 - storage.as_ptr() as usize % 4096) % 4096;
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    /// A page-aligned copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut b = Self::zeroed(bytes.len());
        b.as_mut_slice().copy_from_slice(bytes);
        b
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

/// The median of `v` (the mean of the middle two for an even count); 0 for an empty input.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn aligned_buffers_are_page_aligned_and_hold_their_bytes() {
        for len in [0, 1, 65_536] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut b = AlignedBuf::from_slice(&data);
            assert_eq!(b.as_slice(), &data[..]);
            assert_eq!(b.as_mut_slice().as_ptr() as usize % 4096, 0);
        }
    }

    #[test]
    fn every_case_is_measured_and_run() {
        let mut calls = [0usize; 2];
        let (a, b) = calls.split_at_mut(1);
        let mut cases = [
            Case {
                name: "a",
                bytes: 10,
                run: Box::new(|| a[0] += 1),
            },
            Case {
                name: "b",
                bytes: 100,
                run: Box::new(|| b[0] += 1),
            },
        ];
        let out = throughput(&mut cases, 3, 1000);
        drop(cases);
        assert_eq!(out.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["a", "b"]);
        assert!(out.iter().all(|(_, mbs)| *mbs > 0.0));
        // Warm-up plus 3 rounds of 1000 bytes.
        assert_eq!(calls, [1 + 3 * 100, 1 + 3 * 10]);
    }
}
