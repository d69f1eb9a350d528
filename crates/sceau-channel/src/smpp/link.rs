//! One connection to the SMSC (TCP or TLS): PDUs in and out, sequence numbers.

use super::frame::{self, FrameError};
use bytes::BytesMut;
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a connection ended (or never bound).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("the SMSC closed the connection")]
    Closed,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("the SMSC refused the bind (command_status {0:#x})")]
    Refused(u32),
    #[error("no answer within {0} s: the link is dead")]
    Dead(u32),
    #[error("the SMSC unbound")]
    Unbound,
    #[error("the route is shutting down")]
    Shutdown,
}

pub(crate) struct Link {
    reader: ReadHalf<Box<dyn Stream>>,
    writer: WriteHalf<Box<dyn Stream>>,
    incoming: BytesMut,
    outgoing: BytesMut,
    sequence: u32,
}

/// SMPP's sequence numbers run from 1 to 0x7FFFFFFF.
const SEQUENCE_MAX: u32 = 0x7FFF_FFFF;

impl Link {
    pub(crate) fn new(stream: Box<dyn Stream>) -> Link {
        let (reader, writer) = tokio::io::split(stream);
        Link {
            reader,
            writer,
            incoming: BytesMut::with_capacity(4096),
            outgoing: BytesMut::with_capacity(512),
            sequence: 0,
        }
    }

    pub(crate) fn next_sequence(&mut self) -> u32 {
        self.sequence = if self.sequence >= SEQUENCE_MAX {
            1
        } else {
            self.sequence + 1
        };
        self.sequence
    }

    /// The next PDU from the SMSC. Cancel-safe: what has arrived stays buffered.
    pub(crate) async fn read(&mut self) -> Result<Command, LinkError> {
        loop {
            if let Some(command) = frame::decode_frame(&mut self.incoming)? {
                return Ok(command);
            }
            if self.reader.read_buf(&mut self.incoming).await? == 0 {
                return Err(LinkError::Closed);
            }
        }
    }

    pub(crate) async fn write(&mut self, command: &Command) -> Result<(), LinkError> {
        self.outgoing.clear();
        frame::encode_frame(command, &mut self.outgoing);
        self.writer.write_all(&self.outgoing).await?;
        Ok(())
    }

    /// Sends a request with the next sequence number; returns that number.
    pub(crate) async fn request(&mut self, pdu: impl Into<Pdu>) -> Result<u32, LinkError> {
        let sequence = self.next_sequence();
        self.write(&Command::new(CommandStatus::EsmeRok, sequence, pdu))
            .await?;
        Ok(sequence)
    }

    /// Answers the request `sequence` with success.
    pub(crate) async fn answer(
        &mut self,
        sequence: u32,
        pdu: impl Into<Pdu>,
    ) -> Result<(), LinkError> {
        self.write(&Command::new(CommandStatus::EsmeRok, sequence, pdu))
            .await
    }

    pub(crate) async fn close(mut self) {
        let _ = self.writer.shutdown().await;
    }
}
