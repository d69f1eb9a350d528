//! PDUs from an SMSC: whatever the bytes, framing and decoding end in a command, a wait
//! for more bytes, or a refusal (a length out of bounds is refused before buffering);
//! never a panic. A decoded command encodes again into a frame that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_channel::smpp::frame::{decode_frame, encode_frame};

fuzz_target!(|data: &[u8]| {
    let mut buffer = bytes::BytesMut::from(data);
    while let Ok(Some(command)) = decode_frame(&mut buffer) {
        let mut again = bytes::BytesMut::new();
        encode_frame(&command, &mut again);
        let decoded = decode_frame(&mut again).ok().flatten();
        let header = decoded.map(|decoded| (decoded.id(), decoded.sequence_number()));
        assert_eq!(header, Some((command.id(), command.sequence_number())));
    }
});
