//! The compressions a dump file may come in, told by their magic bytes,
//! and their decoders: gzip and zstd (what budgie writes), xz and bzip2
//! (what other tools and people hand over; DDEV's import takes them too).
//! Every decoder reads concatenated streams, as the command-line tools do.

use std::io::{self, BufRead, Read};

/// A compression a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Packing {
    /// The compression `head` (a file's first bytes) starts, if any.
    pub fn detect(head: &[u8]) -> Option<Packing> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Packing::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Packing::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Packing::Xz)
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Some(Packing::Bzip2)
        } else {
            None
        }
    }

    /// A reader of `input` decompressed.
    pub fn reader<'a>(
        self,
        input: impl BufRead + Send + 'a,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Packing::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Packing::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            Packing::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
            Packing::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn each_packing_is_told_by_its_magic_and_read_back_across_streams() {
        let text = b"SELECT 1;\n".repeat(1000);
        let packed: Vec<(Packing, Vec<u8>)> = vec![
            (Packing::Gzip, {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&text).unwrap();
                e.finish().unwrap()
            }),
            (Packing::Zstd, zstd::encode_all(&text[..], 1).unwrap()),
            (Packing::Xz, {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(&text).unwrap();
                e.finish().unwrap()
            }),
            (Packing::Bzip2, {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(&text).unwrap();
                e.finish().unwrap()
            }),
        ];
        for (packing, bytes) in packed {
            assert_eq!(Packing::detect(&bytes), Some(packing));
            // Two streams one after the other, as `cat a.xz b.xz` makes.
            let twice = [bytes.clone(), bytes].concat();
            let mut out = Vec::new();
            packing
                .reader(&twice[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, [text.clone(), text.clone()].concat(), "{packing:?}");
        }
        assert_eq!(Packing::detect(b"-- PostgreSQL"), None);
        assert_eq!(Packing::detect(b"BZh0"), None);
    }
}
