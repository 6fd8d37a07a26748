//! `chunk_file`: the threshold, agreement with in-memory chunking on any
//! pool size, and files that change while they are read.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bale_chunk::{boundaries, chunk_file, Params, DEFAULT_THRESHOLD};
use bale_error::Error;
use common::Rng;

fn temp_with(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn small_files_are_one_chunk_named_like_the_file() {
    for data in [&b""[..], b"hello", &Rng(1).bytes(100_000)] {
        let f = temp_with(data);
        let got = chunk_file(f.path(), &Params::DEFAULT, DEFAULT_THRESHOLD).unwrap();
        assert_eq!(got.id.digest(), blake3::hash(data).as_bytes());
        assert_eq!(got.size, data.len() as u64);
        assert!(!got.is_chunked());
        assert_eq!(got.chunks.len(), usize::from(!data.is_empty()));
        if let Some(c) = got.chunks.first() {
            assert_eq!((c.id, c.offset, c.len), (got.id, 0, data.len() as u64));
        }
    }
}

#[test]
fn chunked_files_match_in_memory_chunking_on_one_to_three_threads() {
    let mut rng = Rng(2);
    // Above one 16 MiB read, so that chunks straddle buffers.
    let mut data = rng.bytes(20 << 20);
    data.extend(common::csv(&mut rng, 20_000));
    let f = temp_with(&data);
    let p = Params::DEFAULT;
    let expected = boundaries(&data, &p);
    for threads in 1..=3 {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(|| chunk_file(f.path(), &p, DEFAULT_THRESHOLD)).unwrap();
        assert_eq!(got.id.digest(), blake3::hash(&data).as_bytes());
        assert_eq!(got.size, data.len() as u64);
        let ends: Vec<usize> = got.chunks.iter().map(|c| (c.offset + c.len) as usize).collect();
        assert_eq!(ends, expected, "{threads} threads");
        for c in &got.chunks {
            assert_eq!(c.id.digest(), blake3::hash(&data[c.offset as usize..(c.offset + c.len) as usize]).as_bytes());
        }
    }
}

#[test]
fn a_file_touched_or_grown_while_read_is_reported() {
    let f = temp_with(&Rng(3).bytes(48 << 20));
    for grow in [false, true] {
        let stop = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                let file = OpenOptions::new().append(true).open(f.path()).unwrap();
                let mut t = SystemTime::now() + Duration::from_secs(10);
                while !stop.load(Ordering::Relaxed) {
                    if grow {
                        (&file).write_all(b"x").unwrap();
                    } else {
                        // Ever later mtimes: no two observations can agree.
                        t += Duration::from_secs(1);
                        file.set_modified(t).unwrap();
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            });
            let r = chunk_file(f.path(), &Params::DEFAULT, 0);
            stop.store(true, Ordering::Relaxed);
            r
        });
        let err = result.unwrap_err();
        assert!(matches!(err, Error::ChangedWhileHashing { .. }), "grow {grow}: {err}");
    }
}

#[test]
fn invalid_params_and_missing_files_are_errors() {
    let f = temp_with(b"abc");
    let bad = Params { min: 10, avg: 1000, max: 4000 };
    assert!(matches!(chunk_file(f.path(), &bad, 0), Err(Error::Unsupported(_))));
    let err = chunk_file(std::path::Path::new("/nonexistent/x"), &Params::DEFAULT, 0).unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/x: no such file or directory");
}
