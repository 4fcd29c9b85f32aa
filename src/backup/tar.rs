//! Tar streams: whether one ends properly, checked block by block as it
//! streams past (while a volume archive is written, and when a file is
//! verified), in constant memory.

/// Follows a tar stream block by block, in constant memory, to tell whether
/// it ends properly: with two zero blocks after the last member.
///
/// Understands ustar, GNU (base-256 sizes, long names, sparse extension
/// headers) and pax (`size` records) headers; checks each header's
/// checksum. Anything after the end-of-archive blocks (record padding) is
/// ignored.
#[derive(Debug, Clone)]
pub struct TarCheck {
    state: TarState,
    block: [u8; 512],
    fill: usize,
    /// Bytes fed so far.
    offset: u64,
    /// Consecutive all-zero header blocks.
    zero_blocks: u8,
    /// The data of a pax extended header being collected.
    pax: Option<Vec<u8>>,
    /// The `size` of a pax header, for the next member.
    pax_size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TarState {
    /// Expecting a header block.
    Header,
    /// GNU sparse extension blocks, then `data` bytes.
    SparseExt {
        data: u64,
    },
    /// Member data (padded to 512), the first `collect` bytes of which go
    /// to the pax buffer.
    Data {
        remaining: u64,
        collect: u64,
    },
    Ended,
    /// A bad header at this offset.
    Corrupt(u64),
}

/// The most of a pax header kept to find its `size` record.
const PAX_MAX: u64 = 64 * 1024;

impl Default for TarCheck {
    fn default() -> Self {
        TarCheck::new()
    }
}

impl TarCheck {
    pub fn new() -> TarCheck {
        TarCheck {
            state: TarState::Header,
            block: [0; 512],
            fill: 0,
            offset: 0,
            zero_blocks: 0,
            pax: None,
            pax_size: None,
        }
    }

    /// Follows the next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                TarState::Ended | TarState::Corrupt(_) => {
                    self.offset += data.len() as u64;
                    return;
                }
                TarState::Data { remaining, collect } => {
                    let take = remaining.min(data.len() as u64);
                    let n = usize::try_from(take).unwrap_or(data.len());
                    let Some((chunk, rest)) = data.split_at_checked(n) else {
                        return;
                    };
                    let kept = usize::try_from(collect.min(take)).unwrap_or(0);
                    if let Some(pax) = &mut self.pax {
                        pax.extend_from_slice(chunk.get(..kept).unwrap_or_default());
                    }
                    self.offset += take;
                    data = rest;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        if let Some(pax) = self.pax.take() {
                            self.pax_size = pax_size(&pax);
                        }
                        self.state = TarState::Header;
                    } else {
                        self.state = TarState::Data {
                            remaining,
                            collect: collect - kept as u64,
                        };
                    }
                }
                TarState::Header | TarState::SparseExt { .. } => {
                    let n = (512 - self.fill).min(data.len());
                    let Some((chunk, rest)) = data.split_at_checked(n) else {
                        return;
                    };
                    if let Some(dst) = self.block.get_mut(self.fill..self.fill + n) {
                        dst.copy_from_slice(chunk);
                    }
                    self.fill += n;
                    self.offset += n as u64;
                    data = rest;
                    if self.fill == 512 {
                        self.fill = 0;
                        self.block_done();
                    }
                }
            }
        }
    }

    /// None when the stream ended properly, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        match self.state {
            TarState::Ended => None,
            TarState::Corrupt(at) => {
                Some(format!("archive is corrupt (bad tar header at byte {at})"))
            }
            _ => Some(
                "archive is truncated (the tar stream stops before its end-of-archive blocks)"
                    .to_string(),
            ),
        }
    }

    fn block_done(&mut self) {
        let start = self.offset.saturating_sub(512);
        if let TarState::SparseExt { data } = self.state {
            // Byte 504 of a sparse extension block: another one follows.
            self.state = if self.block.get(504).is_some_and(|&b| b != 0) {
                TarState::SparseExt { data }
            } else {
                data_state(data, 0)
            };
            return;
        }
        if self.block.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.state = TarState::Ended;
            }
            return;
        }
        if self.zero_blocks > 0 || !checksum_ok(&self.block) {
            self.state = TarState::Corrupt(start);
            return;
        }
        let Some(mut size) = self.block.get(124..136).and_then(tar_number) else {
            self.state = TarState::Corrupt(start);
            return;
        };
        let kind = self.block.get(156).copied().unwrap_or(0);
        match kind {
            b'x' | b'g' | b'L' | b'K' => {}
            _ => {
                if let Some(s) = self.pax_size.take() {
                    size = s;
                }
            }
        }
        // Types that never carry data, whatever their size field says.
        if matches!(kind, b'1'..=b'6') {
            size = 0;
        }
        let Some(padded) = size.checked_add(511).map(|s| s / 512 * 512) else {
            self.state = TarState::Corrupt(start);
            return;
        };
        let collect = if kind == b'x' {
            self.pax = Some(Vec::new());
            size.min(PAX_MAX)
        } else {
            0
        };
        self.state = if kind == b'S' && self.block.get(482).is_some_and(|&b| b != 0) {
            TarState::SparseExt { data: padded }
        } else {
            data_state(padded, collect)
        };
    }
}

fn data_state(padded: u64, collect: u64) -> TarState {
    if padded == 0 {
        TarState::Header
    } else {
        TarState::Data {
            remaining: padded,
            collect,
        }
    }
}

/// The header checksum: the sum of its bytes with the checksum field read
/// as spaces (unsigned, or signed as some old tars computed it).
fn checksum_ok(block: &[u8; 512]) -> bool {
    let Some(stored) = block.get(148..156).and_then(tar_number) else {
        return false;
    };
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    i64::try_from(stored).is_ok_and(|s| s == unsigned || s == signed)
}

/// A numeric header field: octal digits (leading spaces or NULs, ended by a
/// space or NUL), or GNU base-256 when the high bit of the first byte is
/// set. None when malformed, negative or too large.
fn tar_number(field: &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = field.split_first()
        && first & 0x80 != 0
    {
        if first & 0x40 != 0 {
            return None;
        }
        let mut v = u64::from(first & 0x3f);
        for &b in rest {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    let digits = field.iter().skip_while(|&&b| b == b' ' || b == 0);
    for &b in digits {
        match b {
            b'0'..=b'7' => v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?,
            b' ' | 0 => break,
            _ => return None,
        }
    }
    Some(v)
}

/// The `size` record of a pax extended header (`"<len> size=<n>\n"`).
fn pax_size(data: &[u8]) -> Option<u64> {
    let mut rest = data;
    let mut size = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(rest.get(..space)?).ok()?.parse().ok()?;
        let record = rest.get(space + 1..len)?;
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(v).ok()?.parse().ok();
        }
        rest = rest.get(len..)?;
        if len == 0 {
            return None;
        }
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::testdata::{noise, pad, set_checksum, tar_header, tar_of};

    fn tar_ends(data: &[u8], chunk: usize) -> Option<String> {
        let mut t = TarCheck::new();
        for c in data.chunks(chunk.max(1)) {
            t.feed(c);
        }
        t.problem()
    }

    #[test]
    fn the_tar_check_follows_headers() {
        let data = noise(5000, 1);
        let tar = tar_of(&[("a", b""), ("b", &data), ("c", b"x")]);
        for chunk in [1, 3, 511, 512, 513, 4096, 1 << 20] {
            assert_eq!(tar_ends(&tar, chunk), None, "chunk {chunk}");
        }
        let members_end = 512 + 512 + 5120 + 512 + 512;
        for cut in [0, 1, 511, 512, 1000, 6000, members_end, members_end + 512] {
            assert!(tar_ends(&tar[..cut], 7).is_some(), "cut {cut}");
        }
        // Data that happens to be zero blocks is data, not the end.
        let zeros = vec![0u8; 4096];
        let tar = tar_of(&[("z", &zeros)]);
        assert!(tar_ends(&tar[..512 + 2048], 100).is_some());
        assert_eq!(tar_ends(&tar, 100), None);

        // A bad checksum.
        let mut bad = tar_of(&[("a", b"1")]);
        bad[0] = b'b';
        assert!(tar_ends(&bad, 512).unwrap().contains("corrupt"));

        // Header-only types ignore their size; base-256 sizes; pax sizes.
        let mut out = Vec::new();
        out.extend_from_slice(&tar_header("dir/", 999, b'5'));
        let mut h = tar_header("big", 0, b'0');
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]);
        set_checksum(&mut h);
        out.extend_from_slice(&h);
        out.extend(vec![1u8; 1024]); // 1000 bytes + padding
        let pax = b"13 size=1025\n";
        out.extend_from_slice(&tar_header("PaxHeaders/f", pax.len() as u64, b'x'));
        out.extend_from_slice(pax);
        pad(&mut out, 512);
        out.extend_from_slice(&tar_header("f", 0, b'0'));
        out.extend(vec![2u8; 1536]); // 1025 bytes + padding
        out.extend_from_slice(&[0; 1024]);
        assert_eq!(tar_ends(&out, 100), None);
        // Without the pax size the member would have no data: the data
        // blocks would be read as (bad) headers.
        let mut wrong = out.clone();
        let x = 512 + 512 + 1024;
        wrong[x + 156] = b'0';
        let mut h: [u8; 512] = wrong[x..x + 512].try_into().unwrap();
        set_checksum(&mut h);
        wrong[x..x + 512].copy_from_slice(&h);
        assert!(tar_ends(&wrong, 100).is_some());
    }

    #[test]
    fn tar_fields_parse_safely() {
        assert_eq!(tar_number(b"00000001750\0"), Some(0o1750));
        assert_eq!(tar_number(b"   17 \0\0"), Some(0o17));
        assert_eq!(tar_number(b"\0\0\0\0"), Some(0));
        assert_eq!(tar_number(b"12345678"), None);
        assert_eq!(tar_number(b"\x80\x00\x01\x00"), Some(256));
        assert_eq!(tar_number(b"\xff\xff"), None);
        assert_eq!(
            tar_number(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(tar_number(b"7777777777777777777777777"), None);
        assert_eq!(pax_size(b"13 size=1025\n"), Some(1025));
        assert_eq!(pax_size(b"20 path=a/b/c/d/e/f\n13 size=1025\n"), Some(1025));
        for garbage in [
            &b""[..],
            b"x",
            b"0 size=1\n",
            b"99 size=1\n",
            b"3 \n",
            b"-1 size=2\n",
            b"18446744073709551616 size=1\n",
        ] {
            let _ = pax_size(garbage);
        }
    }

    /// Archives made by GNU tar (on every machine budgie is built on), in
    /// its three formats, with long names, an empty file and a link.
    #[test]
    fn real_tar_archives() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("vol");
        let deep = src.join("a".repeat(90)).join("b".repeat(90));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("c".repeat(120)), noise(3000, 5)).unwrap();
        std::fs::write(src.join("PG_VERSION"), "15\n").unwrap();
        std::fs::write(src.join("empty"), "").unwrap();
        std::os::unix::fs::symlink("PG_VERSION", src.join("link")).unwrap();
        for format in ["gnu", "pax", "ustar-ish"] {
            let mut cmd = std::process::Command::new("tar");
            cmd.arg("-cf").arg("-").arg("-C").arg(&src).arg(".");
            if format != "ustar-ish" {
                cmd.arg(format!("--format={format}"));
            }
            let out = cmd.output().expect("tar runs");
            assert!(out.status.success(), "tar --format={format} failed");
            let tar = out.stdout;
            assert_eq!(tar_ends(&tar, 777), None, "{format}");
            let end = tar.len() - tar.iter().rev().take_while(|&&b| b == 0).count();
            for cut in [512, end / 2, end, end + 100] {
                assert!(tar_ends(&tar[..cut], 777).is_some(), "{format} cut {cut}");
            }
        }
    }
}
