// The station's SHA-256 (static/sha256.js) under node: the NIST example vectors, every
// way of cutting a few messages into chunks, node's own SHA-256 (OpenSSL) on random data
// of many lengths, messages longer than 2^32 bits, and hashFile over a Blob's stream.
// Run by the Rust test `sha256_js_in_node` (tests/station.rs); exits non-zero on a failure.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

// The script as a page runs it: a classic script that defines one global.
const scriptPath = fileURLToPath(new URL("../../static/sha256.js", import.meta.url));
vm.runInThisContext(readFileSync(scriptPath, "utf8"), { filename: scriptPath });
const { Sha256, sha256, toHex, hashFile } = globalThis.sceauSha256;

const text = (s) => new TextEncoder().encode(s);
const hexOf = (bytes) => toHex(sha256(bytes));
const nodeHex = (bytes) => createHash("sha256").update(bytes).digest("hex");
const MIB = 1024 * 1024;

// Hashes `message` cut at `cuts` (increasing offsets), empty chunks included.
function hexInChunks(message, cuts) {
  const hash = new Sha256();
  let start = 0;
  for (const cut of cuts) {
    hash.update(message.subarray(start, cut));
    start = cut;
  }
  hash.update(message.subarray(start));
  return toHex(hash.digest());
}

// Hashes `chunk` given `times` times then `tail`, with this script and with node's.
function repeated(chunk, times, tail) {
  const ours = new Sha256();
  const theirs = createHash("sha256");
  for (let i = 0; i < times; i++) {
    ours.update(chunk);
    theirs.update(chunk);
  }
  ours.update(tail);
  theirs.update(tail);
  return [toHex(ours.digest()), theirs.digest("hex")];
}

let checks = 0;
function check(name, actual, expected) {
  assert.equal(actual, expected, name);
  checks++;
}

// FIPS 180-4's examples (NIST, "Example Algorithms: SHA-256", and SHAVS's long messages).
const nist = [
  ["empty message", text(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc (one block)", text("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [
    "448-bit message (two blocks)",
    text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  ],
  [
    "896-bit message",
    text(
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    ),
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
  ],
  ["one million a", new Uint8Array(1_000_000).fill(0x61), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"],
];
for (const [name, message, expected] of nist) {
  check(`NIST: ${name}`, hexOf(message), expected);
  // One byte at a time, too.
  check(`NIST: ${name}, byte by byte`, hexInChunks(message, [...message.keys()].slice(1)), expected);
}

// Every cut in two and in three of messages around the block and padding boundaries
// (55 bytes is the longest that pads within its block, 56 the shortest that needs two).
for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 150]) {
  const message = randomBytes(length);
  const expected = nodeHex(message);
  for (let i = 0; i <= length; i++) {
    check(`${length} bytes cut at ${i}`, hexInChunks(message, [i]), expected);
    for (let j = i; j <= length; j++) {
      check(`${length} bytes cut at ${i}, ${j}`, hexInChunks(message, [i, j]), expected);
    }
  }
}

// Chunks all of one size, 1 to 200 bytes, over a message of many blocks.
{
  const message = randomBytes(1000);
  const expected = nodeHex(message);
  for (let size = 1; size <= 200; size++) {
    const cuts = [];
    for (let at = size; at < message.length; at += size) cuts.push(at);
    check(`1000 bytes in chunks of ${size}`, hexInChunks(message, cuts), expected);
  }
}

// Random data of every length up to 1100 bytes, and some larger, in random chunks.
for (const length of [...Array(1101).keys(), 4095, 4096, 4097, 65_536, 65_599, MIB + 17]) {
  const message = randomBytes(length);
  const expected = nodeHex(message);
  check(`${length} random bytes`, hexOf(message), expected);
  const cuts = [];
  for (let at = 0; at < length; at += Math.floor(Math.random() * 200)) cuts.push(at);
  check(`${length} random bytes in random chunks`, hexInChunks(message, cuts), expected);
}

// Beyond 2^32 bits: SHAVS's 1 GiB message (exactly 2^33 bits), and 513 MiB and 3 bytes of
// random data (the length's high word 1, its low word not zero), given in 1 MiB chunks.
{
  const pattern = text("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno");
  const chunk = new Uint8Array(MIB);
  for (let at = 0; at < MIB; at += pattern.length) chunk.set(pattern, at);
  const started = performance.now();
  const [ours] = repeated(chunk, 1024, new Uint8Array(0));
  const seconds = (performance.now() - started) / 1000;
  check("SHAVS: 1 GiB message", ours, "50e72a0e26442fe2552dc3938ac58658228c0cbfb1d2ca872ae435266fcd055e");
  console.log(`node: 1 GiB hashed with node's and this SHA-256 in ${seconds.toFixed(2)} s`);
  const [oursRandom, theirsRandom] = repeated(randomBytes(MIB), 513, randomBytes(3));
  check("513 MiB and 3 bytes", oursRandom, theirsRandom);
}

// The speed of this SHA-256 alone, for the record.
{
  const message = randomBytes(64 * MIB);
  const started = performance.now();
  const hash = new Sha256();
  for (let at = 0; at < message.length; at += MIB) hash.update(message.subarray(at, at + MIB));
  const digest = toHex(hash.digest());
  const seconds = (performance.now() - started) / 1000;
  check("64 MiB", digest, nodeHex(message));
  console.log(`node: ${(64 * MIB / 1e6 / seconds).toFixed(0)} MB/s (64 MiB in 1 MiB chunks)`);
}

// hashFile reads a Blob's stream chunk by chunk and reports its progress.
{
  for (const length of [0, 1, 64, 3 * MIB + 5]) {
    const bytes = randomBytes(length);
    const progress = [];
    const hex = await hashFile(new Blob([bytes]), (done, total) => progress.push([done, total]));
    check(`hashFile of ${length} bytes`, hex, nodeHex(bytes));
    for (let i = 0; i < progress.length; i++) {
      assert.equal(progress[i][1], length, "progress: the total is the size");
      assert.ok(progress[i][0] > (i === 0 ? 0 : progress[i - 1][0]), "progress: bytes done grow");
    }
    check(`hashFile of ${length} bytes: progress ends at the size`, progress.at(-1)?.[0] ?? 0, length);
  }
  // A Blob whose stream gives fewer bytes than its size says: refused.
  const lying = { name: "changed.bin", size: 10, stream: () => new Blob([new Uint8Array(7)]).stream() };
  await assert.rejects(hashFile(lying), /changed\.bin gave 7 bytes, not its 10/);
  checks++;
}

// Misuse is refused, not silently wrong.
{
  const hash = new Sha256().update(text("abc"));
  hash.digest();
  assert.throws(() => hash.update(text("d")), /finished/);
  assert.throws(() => hash.digest(), /finished/);
  assert.throws(() => new Sha256().update("abc"), TypeError);
  assert.throws(() => new Sha256().update([1, 2, 3]), TypeError);
  checks += 4;
}

console.log(`sha256.js: ${checks} checks passed`);
