//! Test data shared by the backup modules' unit tests: dumps, tar
//! archives, compressed streams and noise.

use std::io::Write;

/// A plain pg_dump of one table holding `body` (COPY rows), complete,
/// with the `\unrestrict` line of pg_dump 15.14+ when `unrestrict`.
pub(crate) fn dump_text(body: &str, unrestrict: bool) -> String {
    let mut s = String::from(
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n\
         -- Dumped from database version 15.18\n\
         -- Dumped by pg_dump version 15.18\n\n\
         SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n\
         CREATE TABLE public.t (id integer, name text);\n\n\
         COPY public.t (id, name) FROM stdin;\n",
    );
    s.push_str(body);
    s.push_str("\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n");
    if unrestrict {
        s.push_str("\\unrestrict k3y\n\n");
    }
    s
}

pub(crate) fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

pub(crate) fn tar_header(name: &str, size: u64, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0001750\0");
    h[116..124].copy_from_slice(b"0001750\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"15107654321\0");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    set_checksum(&mut h);
    h
}

pub(crate) fn pad(out: &mut Vec<u8>, to: usize) {
    out.resize(out.len().div_ceil(to) * to, 0);
}

/// A ustar archive of regular files, ended and padded to 10240 bytes
/// like GNU tar does.
pub(crate) fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        out.extend_from_slice(&tar_header(name, data.len() as u64, b'0'));
        out.extend_from_slice(data);
        pad(&mut out, 512);
    }
    out.extend_from_slice(&[0; 1024]);
    pad(&mut out, 10240);
    out
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(crate) fn zstd_of(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Pseudo-random bytes (xorshift).
pub(crate) fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The files a tar holds (directories left out): name and bytes.
pub(crate) fn members_of(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .filter(|(name, _)| !name.ends_with('/'))
        .collect()
}
