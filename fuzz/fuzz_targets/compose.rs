//! Compose parsing, merging and interpolation from bytes: compose.yaml,
//! with optional `#### compose.override.yaml` and `#### .env` sections
//! (see budgie::fuzzing::compose).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| budgie::fuzzing::compose(data));
