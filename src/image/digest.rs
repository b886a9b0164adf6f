//! Blob digests, computed with aws-lc-rs while the bytes stream through.

use std::io::{self, Read};

use aws_lc_rs::digest;

/// Counts and hashes (SHA-256) everything read through it.
pub(crate) struct DigestReader<R> {
    inner: R,
    ctx: digest::Context,
    bytes: u64,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            ctx: digest::Context::new(&digest::SHA256),
            bytes: 0,
        }
    }

    /// Reads what is left (tar stops before trailing padding), then returns
    /// `("sha256:<hex>", size)`.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex(self.ctx.finish().as_ref())),
            self.bytes,
        ))
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(digest::digest(&digest::SHA256, bytes).as_ref())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a `sha256:<64 hex>` digest string; other algorithms are refused.
pub(crate) fn validate(digest: &str) -> Result<&str, String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("digest {digest:?} is not sha256"))?;
    if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(hex)
    } else {
        Err(format!("digest {digest:?} is malformed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_drain() {
        let r = DigestReader::new(&b"abc"[..]);
        let (d, n) = r.finish().expect("read");
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(n, 3);
        assert!(validate(&d).is_ok());
        assert!(validate("sha256:../../etc").is_err());
        assert!(validate("md5:abc").is_err());
    }
}
