//! Dump-file validation from bytes: plain SQL, gzip, zstd, custom format
//! (see budgie::fuzzing::dump).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| budgie::fuzzing::dump(data));
