//! The plain-SQL scanner that stands between a dump file and psql (see
//! budgie::fuzzing::sqlscan).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| budgie::fuzzing::sqlscan(data));
