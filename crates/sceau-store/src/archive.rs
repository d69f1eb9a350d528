//! What both archives share: the streams they take and give, the hashing of a put as its
//! bytes arrive ([`Intake`]), and the reader that re-checks every read against the
//! object's address ([`ArchiveReader`]).
//!
//! Nothing here holds more than one piece of a stream: a put hashes each piece, hands it
//! to the backend and lets it go; a read hashes each piece as it passes it on. Memory does
//! not grow with an object's size.

use crate::error::ArchiveError;
use crate::model::{ArchivedObject, Deposit};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A stream of bytes, in pieces of any size: what a put takes and a read gives.
pub type ByteStream<'a> = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'a>>;

/// A put's bytes as they arrive: counted, hashed and held to the deposit's limits.
pub(crate) struct Intake {
    hasher: Sha256,
    size: u64,
    size_max: u64,
    expected: Option<ArchivedObject>,
}

impl Intake {
    pub(crate) fn new(deposit: &Deposit) -> Intake {
        Intake {
            hasher: Sha256::new(),
            size: 0,
            size_max: deposit.size_max,
            expected: deposit.expected,
        }
    }

    /// Takes the next piece; refuses at once when it makes the content longer than
    /// expected or allowed.
    pub(crate) fn take(&mut self, piece: &[u8]) -> Result<(), ArchiveError> {
        self.size = self.size.saturating_add(piece.len() as u64);
        if let Some(expected) = self.expected
            && self.size > expected.size
        {
            return Err(ArchiveError::Mismatch {
                expected,
                found: None,
            });
        }
        if self.size > self.size_max {
            return Err(ArchiveError::TooLarge {
                size_max: self.size_max,
            });
        }
        self.hasher.update(piece);
        Ok(())
    }

    /// The object the content was, once it has ended; refused when it is not the one
    /// expected.
    pub(crate) fn finish(self) -> Result<ArchivedObject, ArchiveError> {
        let object = ArchivedObject {
            sha256: self.hasher.finalize().into(),
            size: self.size,
        };
        match self.expected {
            Some(expected) if expected != object => Err(ArchiveError::Mismatch {
                expected,
                found: Some(object),
            }),
            _ => Ok(object),
        }
    }
}

/// Takes the next piece of `content` into `intake`; `None` at its end.
pub(crate) async fn next_piece(
    content: &mut ByteStream<'_>,
    intake: &mut Intake,
) -> Result<Option<Bytes>, ArchiveError> {
    match content.next().await {
        None => Ok(None),
        Some(Err(error)) => Err(ArchiveError::Input(error)),
        Some(Ok(piece)) => {
            intake.take(&piece)?;
            Ok(Some(piece))
        }
    }
}

/// An archived object's bytes, re-checked as they are read: a reader whose bytes end with
/// another size or SHA-256 than the object's address ends with an error
/// ([`io::ErrorKind::InvalidData`]) instead of a clean end, so that damaged content is
/// never served as if it were whole. Bytes beyond the object's size fail at once. (An
/// `AsyncRead` of it: `tokio_util::io::StreamReader`; a response body:
/// `axum::body::Body::from_stream`.)
pub struct ArchiveReader {
    object: ArchivedObject,
    inner: ByteStream<'static>,
    hasher: Sha256,
    read: u64,
    ended: bool,
}

impl ArchiveReader {
    pub(crate) fn new(object: ArchivedObject, inner: ByteStream<'static>) -> ArchiveReader {
        ArchiveReader {
            object,
            inner,
            hasher: Sha256::new(),
            read: 0,
            ended: false,
        }
    }

    /// The object being read (its size is the length to announce).
    pub fn object(&self) -> ArchivedObject {
        self.object
    }

    fn damaged(&mut self, what: &str) -> Poll<Option<io::Result<Bytes>>> {
        self.ended = true;
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "archived object {} is damaged: {what}",
                hex::encode(self.object.sha256)
            ),
        ))))
    }
}

impl Stream for ArchiveReader {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(context) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(piece))) => {
                self.read = self.read.saturating_add(piece.len() as u64);
                if self.read > self.object.size {
                    return self.damaged("longer than its size");
                }
                self.hasher.update(&piece);
                Poll::Ready(Some(Ok(piece)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.ended = true;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                if self.read != self.object.size {
                    return self.damaged("shorter than its size");
                }
                let sha256: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
                if sha256 != self.object.sha256 {
                    return self.damaged("its SHA-256 differs from its address");
                }
                self.ended = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn object_of(bytes: &[u8]) -> ArchivedObject {
        ArchivedObject {
            sha256: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
        }
    }

    async fn read_all(object: ArchivedObject, pieces: Vec<&'static [u8]>) -> io::Result<Vec<u8>> {
        let inner = stream::iter(pieces.into_iter().map(|p| Ok(Bytes::from_static(p))));
        let mut reader = ArchiveReader::new(object, Box::pin(inner));
        let mut all = Vec::new();
        while let Some(piece) = reader.next().await {
            all.extend_from_slice(&piece?);
        }
        Ok(all)
    }

    async fn check(stored: Vec<&'static [u8]>, address: &[u8], whole: bool) {
        let read = read_all(object_of(address), stored).await;
        match read {
            Ok(bytes) => assert!(whole, "damage served as whole: {bytes:?}"),
            Err(error) => {
                assert!(!whole, "whole content refused: {error}");
                assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            }
        }
    }

    #[tokio::test]
    async fn a_read_ends_cleanly_only_on_the_bytes_of_its_address() {
        check(vec![], b"", true).await;
        check(vec![b"ab", b"c"], b"abc", true).await;
        check(vec![b"abd"], b"abc", false).await;
        check(vec![b"ab"], b"abc", false).await;
        check(vec![b"ab", b"cd"], b"abc", false).await;
        check(vec![b"x"], b"", false).await;
    }

    #[test]
    fn an_intake_refuses_what_it_did_not_expect() {
        let deposit = |expected, size_max| Deposit {
            retain_until_s: 0,
            now_s: 0,
            size_max,
            expected,
        };
        let mut longer = Intake::new(&deposit(Some(object_of(b"abc")), 10));
        longer.take(b"abc").unwrap();
        assert!(matches!(
            longer.take(b"d"),
            Err(ArchiveError::Mismatch { .. })
        ));
        let mut other = Intake::new(&deposit(Some(object_of(b"abc")), 10));
        other.take(b"abd").unwrap();
        assert!(matches!(other.finish(), Err(ArchiveError::Mismatch { .. })));
        let mut large = Intake::new(&deposit(None, 2));
        assert!(matches!(
            large.take(b"abc"),
            Err(ArchiveError::TooLarge { size_max: 2 })
        ));
        let mut fine = Intake::new(&deposit(None, 3));
        fine.take(b"ab").unwrap();
        fine.take(b"c").unwrap();
        assert_eq!(fine.finish().unwrap(), object_of(b"abc"));
    }
}
