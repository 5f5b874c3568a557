//! A byte budget on a connection: what a server may send between two
//! writes of the client (one command, one query) is bounded, so a hostile
//! or broken PostgreSQL or Redis peer cannot make touban allocate without
//! limit. Neither tokio-postgres nor redis has such a setting; both read
//! into buffers that grow as bytes arrive (tokio-postgres's codec reserves
//! nothing from a frame's announced length, redis's parser waits for the
//! bytes of a bulk string), so bounding the bytes on the wire bounds what
//! they hold. Wrapped around the TCP stream, under any TLS, the budget
//! counts ciphertext, which bounds the plaintext too.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose reads fail once more than `cap` bytes have arrived
/// since the last write.
#[derive(Debug)]
pub struct Budget<S> {
    inner: S,
    cap: u64,
    since_write: u64,
    /// Who is on the other side, for the error.
    peer: &'static str,
}

impl<S> Budget<S> {
    /// `inner`, with at most `cap` bytes read per exchange.
    pub fn new(inner: S, cap: u64, peer: &'static str) -> Budget<S> {
        Budget {
            inner,
            cap,
            since_write: 0,
            peer,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budget<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let read = (buf.filled().len() - before) as u64;
            self.since_write = self.since_write.saturating_add(read);
            if self.since_write > self.cap {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} sent more than {} MiB in one answer: refused (settings.max_reply_mib)",
                        self.peer,
                        self.cap >> 20
                    ),
                )));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budget<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, bytes);
        if let Poll::Ready(Ok(n)) = &polled
            && *n > 0
        {
            self.since_write = 0;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn reads_past_the_cap_fail_until_the_next_write() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut capped = Budget::new(client, 1000, "a test peer");
        server.write_all(&[7; 900]).await.expect("write");
        let mut buf = vec![0; 4096];
        let n = capped.read(&mut buf).await.expect("within the cap");
        assert_eq!(n, 900);
        capped.write_all(b"next command").await.expect("write");
        server.write_all(&[7; 1500]).await.expect("write");
        let mut got = 0;
        let err = loop {
            match capped.read(&mut buf).await {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert!(got <= 1000, "{got}");
        assert!(
            err.to_string().contains("a test peer sent more than"),
            "{err}"
        );
    }
}
