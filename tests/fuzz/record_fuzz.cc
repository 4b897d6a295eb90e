// Fuzz target: the record codec (engine/record.h).
//
// Input: one flags byte, then a record as it would sit in a data file.
// Flag bit 0 reseals the record's CRC first, so the value decoders are
// reached with arbitrary headers. Checked properties:
//   * a header that decodes encodes back to the same 32 bytes;
//   * a record that parses has the lengths its header says; when its value
//     decodes, LogicalValueLength (from a 16-byte prefix, as the scanner
//     calls it) agrees with the decoded length;
//   * AppendRecord of the decoded key and value parses and decodes back to
//     them, compressed or not, with or without block checksums;
//   * BlockValueLength inverts the stored length of a block-checked value.
#include <cstring>
#include <string>

#include "fuzz_input.h"
#include "fuzz_target.h"
#include "record.h"

using namespace bitgask::internal;

namespace {

void CheckAppendRoundTrip(const RecordHeader& like, std::string_view key, std::string_view value,
                          uint32_t threshold) {
  RecordHeader h;
  h.timestamp = like.timestamp;
  h.expires = like.expires;
  h.reserved = like.reserved;
  std::string rec;
  const RecordHeader written = AppendRecord(&rec, h, key, value, threshold);
  RecordHeader parsed;
  std::string_view k, v;
  FUZZ_CHECK(ParseRecord(rec, &parsed, &k, &v).ok());
  FUZZ_CHECK(k == key);
  FUZZ_CHECK(parsed.val_len == written.val_len && parsed.flags == written.flags);
  std::string out;
  FUZZ_CHECK(DecodeValue(parsed, v, &out).ok());
  FUZZ_CHECK(out == value);
  uint32_t len = 0;
  FUZZ_CHECK(LogicalValueLength(parsed, v.substr(0, 16), &len).ok());
  FUZZ_CHECK(len == value.size());
}

void CheckBlockLength(uint32_t d) {
  const uint64_t stored = d + 4 * ((static_cast<uint64_t>(d) + kBlockSize - 1) / kBlockSize);
  uint32_t back = 0;
  FUZZ_CHECK(BlockValueLength(stored, &back));
  FUZZ_CHECK(back == d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t flags = in.TakeByte();
  std::string record(in.Rest());

  RecordHeader h;
  if (record.size() >= kHeaderSize && DecodeHeader(record.data(), &h)) {
    char again[kHeaderSize];
    EncodeHeader(h, again);
    FUZZ_CHECK(std::memcmp(again, record.data(), kHeaderSize) == 0);
    if ((flags & 1) && h.RecordSize() == record.size()) ResealRecord(h, record.data());
  }

  std::string_view key, stored;
  if (ParseRecord(record, &h, &key, &stored).ok()) {
    FUZZ_CHECK(key.size() == h.key_len && stored.size() == h.val_len);
    FUZZ_CHECK(h.RecordSize() == record.size());
    std::string value;
    if (DecodeValue(h, stored, &value).ok()) {
      uint32_t len = 0;
      FUZZ_CHECK(LogicalValueLength(h, stored.substr(0, 16), &len).ok());
      FUZZ_CHECK(len == value.size());
      if (!key.empty()) {
        CheckAppendRoundTrip(h, key, value, 0);
        CheckAppendRoundTrip(h, key, value, 1);
      }
    }
  }

  // Any stored length: the decoders must answer without trouble, and a
  // length they accept must be the image of exactly that logical length.
  uint32_t len = 0;
  const uint64_t stored_len = size >= 8 ? (static_cast<uint64_t>(data[size - 1]) << 32 |
                                           static_cast<uint64_t>(data[size - 2]) << 24 |
                                           static_cast<uint64_t>(data[size - 3]) << 16 |
                                           static_cast<uint64_t>(data[size - 4]) << 8 | data[size - 5])
                                        : size;
  if (BlockValueLength(stored_len, &len)) {
    FUZZ_CHECK(len + 4 * ((static_cast<uint64_t>(len) + kBlockSize - 1) / kBlockSize) ==
               stored_len);
  }
  CheckBlockLength(static_cast<uint32_t>(stored_len));
  return 0;
}
