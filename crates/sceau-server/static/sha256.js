// SHA-256 (FIPS 180-4) at the station: files are hashed where they are, as they stream
// from the disk, before anything is sent. crypto.subtle.digest takes the whole message at
// once; this takes it in chunks, so that a 1 GiB file never needs 1 GiB of memory.
//
// A classic script, not an ES module: the page loads it with <script src integrity>, and
// Subresource Integrity covers exactly the scripts the page names. A module imported by
// another module is not covered by the importing tag's integrity. It defines one global,
// `sceauSha256`:
//
//   const hash = new sceauSha256.Sha256();
//   hash.update(bytes);                  // a Uint8Array, any length, any number of times
//   const digest = hash.digest();        // 32 bytes; the hash is finished
//   sceauSha256.toHex(digest);           // 64 lowercase hexadecimal digits
//   await sceauSha256.hashFile(file, (bytesDone, bytesTotal) => ...);  // hex digest
"use strict";

(function () {
  // 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
  // primes.
  const K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  // 5.3.3: the initial hash value, the first 32 bits of the fractional parts of the square
  // roots of the first 8 primes.
  const H0 = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ];

  const BLOCK_BYTES = 64;
  // The message length is counted in bytes as a Number, exact up to 2^53 - 1 bytes: far
  // beyond any file, and below the standard's 2^64 bits (5.1.1). Past it, update throws.
  const MESSAGE_BYTES_MAX = Number.MAX_SAFE_INTEGER;
  const TWO_POW_32 = 0x100000000;

  // 6.2.2: the hash computation over `blockCount` 64-byte blocks of `bytes` from
  // `offset`, read in place (no copy). The words are 32-bit integers held as Int32
  // (`| 0` after each sum wraps it modulo 2^32, as the standard's addition); the rotations
  // of 4.1.2 are written out as shifts.
  function compress(state, w, bytes, offset, blockCount) {
    let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3];
    let h4 = state[4], h5 = state[5], h6 = state[6], h7 = state[7];
    for (let block = 0; block < blockCount; block++, offset += BLOCK_BYTES) {
      // 1. The message schedule: 16 big-endian words of the block, then 48 more.
      for (let t = 0, at = offset; t < 16; t++, at += 4) {
        w[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
      }
      for (let t = 16; t < 64; t++) {
        const x = w[t - 15];
        const y = w[t - 2];
        const sigma0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const sigma1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (sigma1 + w[t - 7] + sigma0 + w[t - 16]) | 0;
      }
      // 2. The working variables start from the hash value.
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      // 3. 64 rounds.
      for (let t = 0; t < 64; t++) {
        const bigSigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const choose = g ^ (e & (f ^ g)); // Ch(e, f, g) of 4.1.2, in fewer steps
        const t1 = (h + bigSigma1 + choose + K[t] + w[t]) | 0;
        const bigSigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const majority = (a & b) | (c & (a | b)); // Maj(a, b, c), likewise
        const t2 = (bigSigma0 + majority) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      // 4. The intermediate hash value.
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    state[0] = h0; state[1] = h1; state[2] = h2; state[3] = h3;
    state[4] = h4; state[5] = h5; state[6] = h6; state[7] = h7;
  }

  // An incremental SHA-256: `update` with chunks of any length, then `digest` once.
  class Sha256 {
    constructor() {
      this.state = new Int32Array(H0);
      this.schedule = new Int32Array(64);
      // The start of a block not yet full, between chunks.
      this.pending = new Uint8Array(BLOCK_BYTES);
      this.pendingBytes = 0;
      this.messageBytes = 0;
      this.finished = false;
    }

    update(bytes) {
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError("SHA-256 takes a Uint8Array");
      }
      if (this.finished) {
        throw new Error("this SHA-256 is finished: make a new one");
      }
      if (bytes.length > MESSAGE_BYTES_MAX - this.messageBytes) {
        throw new RangeError("message too long for this SHA-256 (2^53 bytes at most)");
      }
      this.messageBytes += bytes.length;
      let offset = 0;
      // Complete the pending block first.
      if (this.pendingBytes > 0) {
        const taken = Math.min(BLOCK_BYTES - this.pendingBytes, bytes.length);
        this.pending.set(bytes.subarray(0, taken), this.pendingBytes);
        this.pendingBytes += taken;
        offset = taken;
        if (this.pendingBytes < BLOCK_BYTES) {
          return this;
        }
        compress(this.state, this.schedule, this.pending, 0, 1);
        this.pendingBytes = 0;
      }
      // Then every whole block, where it lies in the chunk.
      const blockCount = Math.floor((bytes.length - offset) / BLOCK_BYTES);
      compress(this.state, this.schedule, bytes, offset, blockCount);
      offset += blockCount * BLOCK_BYTES;
      // Keep the rest for the next chunk.
      this.pending.set(bytes.subarray(offset), 0);
      this.pendingBytes = bytes.length - offset;
      return this;
    }

    // 5.1.1 and 6.2: pads the message (a 1 bit, zeros, the length in bits as a 64-bit
    // big-endian integer) and returns the 32-byte digest (the hash value, big-endian).
    digest() {
      if (this.finished) {
        throw new Error("this SHA-256 is finished: its digest was already taken");
      }
      this.finished = true;
      const block = this.pending;
      block.fill(0, this.pendingBytes);
      block[this.pendingBytes] = 0x80;
      if (this.pendingBytes >= BLOCK_BYTES - 8) {
        compress(this.state, this.schedule, block, 0, 1);
        block.fill(0);
      }
      // The length in bits, 8 times a byte count below 2^53: exact in a Number, split in
      // two 32-bit halves.
      const messageBits = this.messageBytes * 8;
      const lengthView = new DataView(block.buffer, block.byteOffset, BLOCK_BYTES);
      lengthView.setUint32(56, Math.floor(messageBits / TWO_POW_32));
      lengthView.setUint32(60, messageBits % TWO_POW_32);
      compress(this.state, this.schedule, block, 0, 1);
      const digest = new Uint8Array(32);
      const digestView = new DataView(digest.buffer);
      for (let i = 0; i < 8; i++) {
        digestView.setInt32(4 * i, this.state[i]);
      }
      return digest;
    }
  }

  // Lowercase hexadecimal, as sha256sum prints it.
  function toHex(bytes) {
    let hex = "";
    for (let i = 0; i < bytes.length; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return hex;
  }

  // The SHA-256 of a whole message held in memory, as 32 bytes.
  function sha256(bytes) {
    return new Sha256().update(bytes).digest();
  }

  // The hex SHA-256 of a File (or Blob), read from file.stream() one chunk at a time:
  // each chunk is hashed and let go before the next is read. `onProgress(bytesDone,
  // bytesTotal)`, if given, is called after each chunk. Rejects when the file cannot be
  // read, or when it did not give as many bytes as its size says (it changed on disk).
  async function hashFile(file, onProgress) {
    const hash = new Sha256();
    const reader = file.stream().getReader();
    let bytesDone = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      hash.update(value);
      bytesDone += value.length;
      if (onProgress) {
        onProgress(bytesDone, file.size);
      }
    }
    if (bytesDone !== file.size) {
      throw new Error(
        `${file.name || "the file"} gave ${bytesDone} bytes, not its ${file.size}: did it change while it was read?`,
      );
    }
    return toHex(hash.digest());
  }

  globalThis.sceauSha256 = Object.freeze({ Sha256, sha256, toHex, hashFile });
})();
