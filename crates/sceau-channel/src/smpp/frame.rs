//! PDUs on the wire: `command_length` first, then the command that `rusmpp` decodes.
//!
//! The length is checked before anything is buffered for it: a PDU claiming more than
//! [`COMMAND_LENGTH_MAX`] octets (or fewer than its own header) ends the connection, so
//! what a hostile SMSC can make us hold is bounded.

use bytes::{Buf, BufMut, BytesMut};
use rusmpp::Command;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode;

/// The largest PDU accepted: a `deliver_sm` with every optional parameter is far below.
pub const COMMAND_LENGTH_MAX: usize = 64 * 1024;
/// `command_length`, `command_id`, `command_status`, `sequence_number`.
const HEADER_LENGTH: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("command_length {0} is outside 16..={COMMAND_LENGTH_MAX}")]
    Length(u32),
    #[error("an undecodable PDU: {0}")]
    Pdu(String),
}

/// Takes the first whole PDU off `buffer`, if it has arrived; leaves a partial one in
/// place (reserving room for the rest of it).
pub fn decode_frame(buffer: &mut BytesMut) -> Result<Option<Command>, FrameError> {
    let Some(length) = buffer.get(..4) else {
        return Ok(None);
    };
    let claimed = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
    let length = usize::try_from(claimed).map_err(|_| FrameError::Length(claimed))?;
    if !(HEADER_LENGTH..=COMMAND_LENGTH_MAX).contains(&length) {
        return Err(FrameError::Length(claimed));
    }
    if buffer.len() < length {
        buffer.reserve(length - buffer.len());
        return Ok(None);
    }
    let mut frame = buffer.split_to(length);
    frame.advance(4);
    let (command, _) = Command::decode(&mut frame, length - 4)
        .map_err(|error| FrameError::Pdu(error.to_string()))?;
    Ok(Some(command))
}

/// Appends `command` to `buffer`, its `command_length` first.
pub fn encode_frame(command: &Command, buffer: &mut BytesMut) {
    let length = 4 + command.length();
    buffer.reserve(length);
    buffer.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    command.encode(buffer);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rusmpp::{CommandStatus, Pdu};

    #[test]
    fn a_pdu_is_decoded_once_whole_and_its_bytes_consumed() {
        let mut wire = BytesMut::new();
        encode_frame(
            &Command::new(CommandStatus::EsmeRok, 7, Pdu::EnquireLink),
            &mut wire,
        );
        encode_frame(
            &Command::new(CommandStatus::EsmeRok, 8, Pdu::Unbind),
            &mut wire,
        );
        let mut buffer = BytesMut::from(&wire[..10]);
        assert_eq!(decode_frame(&mut buffer), Ok(None));
        buffer.extend_from_slice(&wire[10..]);
        let first = decode_frame(&mut buffer).unwrap().unwrap();
        assert_eq!(
            (first.id(), first.sequence_number()),
            (rusmpp::CommandId::EnquireLink, 7)
        );
        let second = decode_frame(&mut buffer).unwrap().unwrap();
        assert_eq!(second.sequence_number(), 8);
        assert!(buffer.is_empty());
    }

    #[test]
    fn lengths_out_of_bounds_and_garbage_are_refused_before_buffering() {
        let check = |bytes: &[u8], expected: FrameError| {
            let mut buffer = BytesMut::from(bytes);
            assert_eq!(decode_frame(&mut buffer), Err(expected));
            assert!(buffer.capacity() <= COMMAND_LENGTH_MAX);
        };
        check(&[0xff, 0xff, 0xff, 0xff, 0], FrameError::Length(u32::MAX));
        check(&[0, 1, 0, 1], FrameError::Length(65_537));
        check(&[0, 0, 0, 15], FrameError::Length(15));
        // A submit_sm_resp whose message_id has no terminating NUL.
        let mut garbage = BytesMut::from(&[0u8, 0, 0, 20, 0x80, 0, 0, 4][..]);
        garbage.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, b'a', b'b', b'c', b'd']);
        assert!(matches!(
            decode_frame(&mut garbage),
            Err(FrameError::Pdu(_))
        ));
    }
}
