//! Tiny MSB-first bit reader/writer and CRC-32/MPEG-2 shared by the parsers.

use crate::error::{Error, Result};

/// MSB-first bit reader over a byte slice. Reads never panic: running off the
/// end returns [`Error::Truncated`] with the byte offset (relative to `base`).
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
    base: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize, what: &'static str) -> Self {
        Self {
            data,
            bit: 0,
            base,
            what,
        }
    }

    /// Current byte offset in the caller's coordinates.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.bit / 8
    }

    /// Bits read so far.
    pub(crate) fn bit_pos(&self) -> usize {
        self.bit
    }

    /// Reads `n` (<= 64) bits.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u64> {
        debug_assert!(n <= 64);
        let end = self.bit + n as usize;
        if end > self.data.len() * 8 {
            let needed = end.div_ceil(8) - self.data.len();
            return Err(Error::Truncated {
                what: self.what,
                offset: self.base + self.data.len(),
                needed,
            });
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            let byte = self.data[self.bit / 8];
            let b = (byte >> (7 - (self.bit % 8))) & 1;
            v = (v << 1) | u64::from(b);
            self.bit += 1;
        }
        Ok(v)
    }

    pub(crate) fn flag(&mut self) -> Result<bool> {
        Ok(self.bits(1)? == 1)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bits(8)? as u8)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(self.bits(16)? as u16)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(self.bits(32)? as u32)
    }

    /// Exp-Golomb ue(v) (H.264 7.2); at most 31 leading zeros.
    pub(crate) fn ue(&mut self) -> Result<u32> {
        let start = self.offset();
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return Err(crate::error::invalid(
                    self.what,
                    start,
                    "exp-Golomb code longer than 32 bits",
                ));
            }
        }
        Ok(((1u64 << zeros) - 1 + self.bits(zeros)?) as u32)
    }

    /// Exp-Golomb se(v).
    pub(crate) fn se(&mut self) -> Result<i32> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }

    /// Skips `n` whole bytes (must be byte-aligned).
    pub(crate) fn skip_bytes(&mut self, n: usize) -> Result<()> {
        let end = self.bit + n * 8;
        if end > self.data.len() * 8 {
            return Err(Error::Truncated {
                what: self.what,
                offset: self.base + self.data.len(),
                needed: end.div_ceil(8) - self.data.len(),
            });
        }
        self.bit = end;
        Ok(())
    }
}

/// MSB-first bit writer.
#[derive(Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    nbits: u8,
}

impl BitWriter {
    pub(crate) fn put(&mut self, n: u32, v: u64) {
        for i in (0..n).rev() {
            let b = ((v >> i) & 1) as u8;
            self.acc = (self.acc << 1) | b;
            self.nbits += 1;
            if self.nbits == 8 {
                self.out.push(self.acc);
                self.acc = 0;
                self.nbits = 0;
            }
        }
    }

    pub(crate) fn flag(&mut self, b: bool) {
        self.put(1, u64::from(b));
    }

    /// Returns the bytes; the writer must be byte-aligned.
    pub(crate) fn finish(self) -> Vec<u8> {
        debug_assert_eq!(self.nbits, 0, "BitWriter not byte-aligned");
        self.out
    }
}

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no xor-out),
/// as used by PSI tables and SCTE-35 sections.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        // The catalogue check value of CRC-32/MPEG-2 over "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn bits_round_trip_and_truncation() {
        let mut w = BitWriter::default();
        w.put(3, 0b101);
        w.put(33, 0x1_2345_6789);
        w.put(4, 0xF);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes, 10, "t");
        assert_eq!(r.bits(3).unwrap(), 0b101);
        assert_eq!(r.bits(33).unwrap(), 0x1_2345_6789);
        assert_eq!(r.bits(4).unwrap(), 0xF);
        assert!(matches!(
            r.bits(1),
            Err(Error::Truncated { offset: 15, .. })
        ));
    }
}
