// The record codec, file names, the data file scanner and hint files
// (engine/record.h, engine/data_file.h, engine/hint_file.h; docs/Format.md).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bitgask/env.h"
#include "coding.h"
#include "crc32.h"
#include "data_file.h"
#include "hint_file.h"
#include "record.h"

namespace bitgask {
namespace internal {

// Readable gtest output for the enums (found by ADL, so in their namespace).
void PrintTo(FileKind k, std::ostream* os) {
  static const char* const kNames[] = {"kData", "kHint", "kTemp", "kOther"};
  *os << kNames[static_cast<int>(k)];
}
void PrintTo(RecordScanner::Result r, std::ostream* os) {
  static const char* const kNames[] = {"kOp", "kEnd", "kBad"};
  *os << kNames[static_cast<int>(r)];
}

namespace {

// ------------------------------------------------------------------ helpers

// A RandomAccessFile over a string (short reads at the end like pread).
class StringFile : public RandomAccessFile {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override {
    if (offset >= data_.size()) {
      *result = std::string_view(scratch, 0);
      return Status::OK();
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>(n, data_.size() - offset));
    std::memcpy(scratch, data_.data() + offset, len);
    *result = std::string_view(scratch, len);
    return Status::OK();
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

std::string RandomBytes(std::mt19937_64* rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>((*rng)() & 0xFF);
  return s;
}

std::string Compressible(size_t n, char seed = 'a') {
  std::string s;
  s.reserve(n);
  const std::string pat = std::string("the quick brown fox ") + seed + " jumps over the lazy dog. ";
  while (s.size() < n) s += pat;
  s.resize(n);
  return s;
}

// Zlib's own CRC-32 of bytes, computed without the engine's helpers.
uint32_t ZlibCrc(std::string_view bytes) {
  return static_cast<uint32_t>(
      ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
              static_cast<uInt>(bytes.size())));
}

// A record with exactly the given header fields and stored value (no
// compression decisions), with a correct CRC.
std::string RawRecord(RecordHeader h, std::string_view key, std::string_view stored) {
  h.key_len = static_cast<uint32_t>(key.size());
  h.val_len = static_cast<uint32_t>(stored.size());
  std::string out(kHeaderSize, '\0');
  EncodeHeader(h, out.data());
  out.append(key.data(), key.size());
  out.append(stored.data(), stored.size());
  EncodeFixed32(out.data(), ZlibCrc(std::string_view(out).substr(4)));
  return out;
}

std::string CountValue(uint32_t n) {
  std::string v(4, '\0');
  EncodeFixed32(v.data(), n);
  return v;
}

// What a data file holds, record by record, and what the scanner must return.
struct Expected {
  uint64_t offset;
  uint64_t size;
  LogOp::Kind kind;
  std::string key;
  RecordHeader header;  // as written
  uint32_t value_len;   // logical
  uint8_t meta_mask;
};

class FileBuilder {
 public:
  // Appends a record and, unless `hidden` (batch members, commits), an expectation.
  void Put(std::string_view key, std::string_view value, int64_t ts, int64_t expires,
           uint16_t mode, uint32_t threshold = 256, uint8_t extra_flags = 0) {
    RecordHeader h;
    h.timestamp = ts;
    h.expires = expires;
    h.reserved = mode;
    h.flags = extra_flags;
    Add(h, key, value, threshold, LogOp::kPut, static_cast<uint32_t>(value.size()), 0);
  }
  void Delete(std::string_view key, int64_t ts, uint8_t extra_flags = 0) {
    RecordHeader h;
    h.timestamp = ts;
    h.flags = kFlagTombstone | extra_flags;
    Add(h, key, "", 0, LogOp::kDelete, 0, 0);
  }
  void Meta(std::string_view key, uint8_t mask, int64_t ts, int64_t expires, uint16_t mode,
            uint8_t extra_flags = 0) {
    RecordHeader h;
    h.timestamp = ts;
    h.expires = expires;
    h.reserved = mode;
    h.flags = kFlagMetaUpdate | extra_flags;
    const char m = static_cast<char>(mask);
    Add(h, key, std::string_view(&m, 1), 0, LogOp::kMeta, 0, mask);
  }
  void Commit(uint32_t count) {
    RecordHeader h;
    h.flags = kFlagBatchCommit;
    AppendRecord(&data_, h, "", CountValue(count), 0);
  }
  void Raw(std::string_view bytes) { data_.append(bytes.data(), bytes.size()); }

  const std::string& data() const { return data_; }
  const std::vector<Expected>& expected() const { return expected_; }

 private:
  void Add(RecordHeader h, std::string_view key, std::string_view value, uint32_t threshold,
           LogOp::Kind kind, uint32_t value_len, uint8_t mask) {
    const uint64_t off = data_.size();
    RecordHeader w = AppendRecord(&data_, h, key, value, threshold);
    expected_.push_back(
        Expected{off, data_.size() - off, kind, std::string(key), w, value_len, mask});
  }

  std::string data_;
  std::vector<Expected> expected_;
};

void ExpectOp(const LogOp& op, const Expected& e, uint32_t file_id) {
  SCOPED_TRACE("record at offset " + std::to_string(e.offset));
  EXPECT_EQ(op.kind, e.kind);
  EXPECT_EQ(op.key, e.key);
  EXPECT_EQ(op.record_size, e.size);
  EXPECT_EQ(op.entry.file_id, file_id);
  EXPECT_EQ(op.entry.offset, e.offset);
  EXPECT_EQ(op.entry.disk_len, e.header.val_len);
  EXPECT_EQ(op.entry.timestamp, e.header.timestamp);
  EXPECT_EQ(op.entry.expires, e.header.expires);
  EXPECT_EQ(op.entry.mode, e.header.reserved);
  EXPECT_EQ(op.entry.flags, e.header.flags);
  if (e.kind == LogOp::kPut) {
    EXPECT_EQ(op.entry.value_len, e.value_len);
  }
  if (e.kind == LogOp::kMeta) {
    EXPECT_EQ(op.meta_mask, e.meta_mask);
  }
}

// Runs the scanner to its end; returns the ops it gave and its final result.
RecordScanner::Result ScanAll(RecordScanner* scanner, std::vector<LogOp>* ops) {
  ops->clear();
  LogOp op;
  RecordScanner::Result r;
  while ((r = scanner->Next(&op)) == RecordScanner::Result::kOp) ops->push_back(op);
  return r;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bitgask_record_test.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path_ + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good());
}

// ------------------------------------------------------------------ headers

// The engine's CRC-32 (ISA-L) must be zlib's bit for bit: the format was
// defined by zlib's crc32(). Every length from 0 to 600 (the CPU paths of
// ISA-L differ by length: tails, folding blocks of 16 and 64 bytes), from
// several starting CRCs, and extending in pieces as record writers do.
TEST(Crc32Test, SameAsZlibForEveryLengthAndStart) {
  std::mt19937_64 rng(7);
  std::string data(600, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (uint32_t start : {0u, 1u, 0xFFFFFFFFu, 0x1234ABCDu}) {
    for (size_t n = 0; n <= data.size(); n++) {
      const uint32_t want = static_cast<uint32_t>(
          ::crc32(start, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n)));
      ASSERT_EQ(Crc32(start, data.data(), n), want) << "length " << n << " start " << start;
      const size_t cut = n / 3;
      ASSERT_EQ(Crc32(Crc32(start, data.data(), cut), data.data() + cut, n - cut), want)
          << "in two pieces, length " << n;
    }
  }
  // Unaligned starts and a large buffer.
  std::string big(3 << 20, '\0');
  for (char& c : big) c = static_cast<char>(rng());
  for (size_t off = 0; off < 16; off++) {
    const size_t n = big.size() - off;
    ASSERT_EQ(Crc32(0, big.data() + off, n),
              static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(big.data() + off),
                                            static_cast<uInt>(n))));
  }
}

TEST(RecordHeaderTest, LayoutIsLittleEndianAt32Bytes) {
  RecordHeader h;
  h.crc = 0x04030201u;
  h.timestamp = 0x0C0B0A0908070605ll;
  h.expires = 0x14131211100F0E0Dll;
  h.key_len = 0x00001615u;
  h.val_len = 0x1C1B1A19u;
  h.flags = kFlagCompressed;
  h.codec = kCodecSnappy;
  h.reserved = 0x201Fu;
  char buf[kHeaderSize];
  EncodeHeader(h, buf);
  const unsigned char want[kHeaderSize] = {
      0x01, 0x02, 0x03, 0x04,                          // crc
      0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C,  // ts
      0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14,  // expires
      0x15, 0x16, 0x00, 0x00,                          // key_len
      0x19, 0x1A, 0x1B, 0x1C,                          // val_len
      0x02, 0x01,                                      // flags, codec
      0x1F, 0x20};                                     // reserved
  EXPECT_EQ(std::memcmp(buf, want, kHeaderSize), 0);
  EXPECT_EQ(kHeaderSize, 32u);
  EXPECT_EQ(h.RecordSize(), 32u + 0x1615u + 0x1C1B1A19u);
}

TEST(RecordHeaderTest, RoundTripAllFieldsAndExtremes) {
  const int64_t i64[] = {0, 1, -1, std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), 1700000000123456789ll};
  const uint32_t u32[] = {0, 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
  const uint8_t flag_sets[] = {0,
                               kFlagTombstone,
                               kFlagMetaUpdate,
                               kFlagBatch,
                               kFlagBatch | kFlagTombstone,
                               kFlagBatchCommit,
                               kFlagTombstone | kFlagMetaUpdate | kFlagBatch | kFlagBatchCommit};
  int checked = 0;
  for (int64_t ts : i64) {
    for (int64_t ex : i64) {
      for (uint32_t kl : {1u, 2u, 255u, 256u, 65535u}) {
        for (uint32_t vl : u32) {
          for (uint8_t fl : flag_sets) {
            for (int compressed = 0; compressed < 2; compressed++) {
              for (uint16_t mode : {uint16_t{0}, uint16_t{0100644}, uint16_t{0xFFFF}}) {
                RecordHeader h;
                h.crc = static_cast<uint32_t>(ts ^ ex) ^ vl;
                h.timestamp = ts;
                h.expires = ex;
                h.key_len = kl;
                h.val_len = vl;
                h.flags = fl | (compressed ? kFlagCompressed : 0);
                h.codec = compressed ? kCodecSnappy : kCodecNone;
                h.reserved = mode;
                char buf[kHeaderSize];
                EncodeHeader(h, buf);
                RecordHeader d;
                ASSERT_TRUE(DecodeHeader(buf, &d));
                ASSERT_EQ(d.crc, h.crc);
                ASSERT_EQ(d.timestamp, ts);
                ASSERT_EQ(d.expires, ex);
                ASSERT_EQ(d.key_len, kl);
                ASSERT_EQ(d.val_len, vl);
                ASSERT_EQ(d.flags, h.flags);
                ASSERT_EQ(d.codec, h.codec);
                ASSERT_EQ(d.reserved, mode);
                checked++;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

TEST(RecordHeaderTest, DecodeRejectsInvalidHeaders) {
  RecordHeader good;
  good.timestamp = 5;
  good.key_len = 3;
  good.val_len = 7;
  char buf[kHeaderSize];
  RecordHeader d;
  EncodeHeader(good, buf);
  ASSERT_TRUE(DecodeHeader(buf, &d));

  // The unknown flag bit, alone and with known ones.
  for (int bit = 7; bit < 8; bit++) {
    for (uint8_t known : {uint8_t{0}, uint8_t{kFlagTombstone}, uint8_t{kKnownFlags}}) {
      RecordHeader h = good;
      h.flags = static_cast<uint8_t>(known | (1u << bit));
      if (h.flags & kFlagCompressed) h.codec = kCodecSnappy;
      EncodeHeader(h, buf);
      EXPECT_FALSE(DecodeHeader(buf, &d)) << "flags " << int(h.flags);
    }
  }
  // An owner block on a tombstone or a batch commit record.
  for (uint8_t fl : {uint8_t{kFlagTombstone}, uint8_t{kFlagBatchCommit}}) {
    RecordHeader h = good;
    h.flags = static_cast<uint8_t>(fl | kFlagOwner);
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d)) << "flags " << int(h.flags);
  }
  // Unknown codecs, with and without the compressed flag.
  for (int codec = 2; codec < 256; codec++) {
    for (uint8_t fl : {uint8_t{0}, uint8_t{kFlagCompressed}}) {
      RecordHeader h = good;
      h.codec = static_cast<uint8_t>(codec);
      h.flags = fl;
      EncodeHeader(h, buf);
      EXPECT_FALSE(DecodeHeader(buf, &d)) << "codec " << codec;
    }
  }
  // Codec and compressed flag disagree.
  {
    RecordHeader h = good;
    h.codec = kCodecSnappy;
    h.flags = 0;
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d));
    h.codec = kCodecNone;
    h.flags = kFlagCompressed;
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d));
    h.codec = kCodecSnappy;
    h.flags = kFlagCompressed;
    EncodeHeader(h, buf);
    EXPECT_TRUE(DecodeHeader(buf, &d));
  }
  // key_len 0 only for a batch commit or the clear-all tombstone (DeleteAll).
  for (uint8_t fl : {uint8_t{0}, uint8_t{kFlagMetaUpdate}, uint8_t{kFlagBatch},
                     uint8_t{kFlagBatch | kFlagTombstone}}) {
    RecordHeader h = good;
    h.key_len = 0;
    h.flags = fl;
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d)) << "flags " << int(fl);
  }
  {
    RecordHeader h = good;
    h.key_len = 0;
    h.val_len = 0;
    h.flags = kFlagTombstone;
    EncodeHeader(h, buf);
    EXPECT_TRUE(DecodeHeader(buf, &d));
  }
  {
    RecordHeader h = good;
    h.key_len = 0;
    h.val_len = 4;
    h.flags = kFlagBatchCommit;
    EncodeHeader(h, buf);
    EXPECT_TRUE(DecodeHeader(buf, &d));
    EXPECT_EQ(d.key_len, 0u);
  }
  // key_len over 65535.
  for (uint32_t kl : {65536u, 65537u, 0x00FFFFFFu, 0x80000000u, 0xFFFFFFFFu}) {
    RecordHeader h = good;
    h.key_len = kl;
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d)) << kl;
    h.flags = kFlagBatchCommit;
    EncodeHeader(h, buf);
    EXPECT_FALSE(DecodeHeader(buf, &d)) << kl;
  }
  // All zeros (a preallocated or zero-filled tail) is not a header.
  char zeros[kHeaderSize] = {};
  EXPECT_FALSE(DecodeHeader(zeros, &d));
}

// ------------------------------------------------------------------ records

TEST(RecordTest, CrcCoversEverythingAfterTheCrcField) {
  std::string rec;
  RecordHeader h;
  h.timestamp = 42;
  h.expires = 43;
  h.reserved = 0644;
  RecordHeader w = AppendRecord(&rec, h, "key", "value", 0);
  ASSERT_EQ(rec.size(), kHeaderSize + 3 + 5);
  EXPECT_EQ(w.crc, ZlibCrc(std::string_view(rec).substr(4)));
  EXPECT_EQ(DecodeFixed32(rec.data()), w.crc);
  EXPECT_EQ(RecordCrc(rec.data(), "key", "", "value"), w.crc);
  EXPECT_EQ(rec.substr(kHeaderSize), "keyvalue");
}

TEST(RecordTest, AppendAndParseRoundTrip) {
  std::mt19937_64 rng(7);
  struct Case {
    std::string key;
    std::string value;
  };
  std::vector<Case> cases = {
      {"k", ""},
      {"k", "v"},
      {"hello", "world"},
      {std::string("\0\xff\x01", 3), std::string("\0\0\0binary\xff\xfe", 12)},
      {std::string(65535, 'K'), "long key"},
      {"small-compressible", Compressible(255)},  // below the threshold
      {"at-threshold", Compressible(256)},
      {"big-compressible", Compressible(1 << 20)},
      {"random-small", RandomBytes(&rng, 300)},
      {"random-large", RandomBytes(&rng, 3 << 20)},
      {RandomBytes(&rng, 100), RandomBytes(&rng, 1000)},
  };
  std::string all;  // every record appended to one buffer: starts are independent
  std::vector<std::pair<size_t, size_t>> spans;
  for (const Case& c : cases) {
    for (uint8_t flags : {uint8_t{0}, uint8_t{kFlagBatch}}) {
      RecordHeader h;
      h.timestamp = -123456789;
      h.expires = std::numeric_limits<int64_t>::max();
      h.reserved = 0100755;
      h.flags = flags;
      const size_t start = all.size();
      RecordHeader w = AppendRecord(&all, h, c.key, c.value, 256);
      spans.emplace_back(start, all.size() - start);
      EXPECT_EQ(w.timestamp, h.timestamp);
      EXPECT_EQ(w.expires, h.expires);
      EXPECT_EQ(w.reserved, h.reserved);
      EXPECT_EQ(w.key_len, c.key.size());
      EXPECT_EQ(w.flags & ~(kFlagCompressed | kFlagBlockChecksums), flags);
      // Block checksums exactly on uncompressed values larger than a block.
      EXPECT_EQ((w.flags & kFlagBlockChecksums) != 0,
                w.codec == kCodecNone && c.value.size() > kBlockSize);
      EXPECT_EQ(w.RecordSize(), all.size() - start);

      RecordHeader p;
      std::string_view key, stored;
      Status s = ParseRecord(std::string_view(all).substr(start), &p, &key, &stored);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(key, c.key);
      EXPECT_EQ(p.crc, w.crc);
      EXPECT_EQ(p.timestamp, h.timestamp);
      EXPECT_EQ(p.expires, h.expires);
      EXPECT_EQ(p.reserved, h.reserved);
      EXPECT_EQ(p.flags, w.flags);
      EXPECT_EQ(p.codec, w.codec);
      EXPECT_EQ(p.val_len, stored.size());
      std::string out = "junk";
      ASSERT_TRUE(DecodeValue(p, stored, &out).ok());
      EXPECT_TRUE(out == c.value) << c.key.substr(0, 20);
      uint32_t len = 0;
      ASSERT_TRUE(LogicalValueLength(p, stored.substr(0, 16), &len).ok());
      EXPECT_EQ(len, c.value.size());
    }
  }
  // Parse again now that the buffer is complete (nothing overwrote earlier records).
  for (auto [start, size] : spans) {
    RecordHeader p;
    std::string_view key, stored;
    EXPECT_TRUE(ParseRecord(std::string_view(all).substr(start, size), &p, &key, &stored).ok());
  }
}

TEST(RecordTest, OwnerBlockSitsBetweenKeyAndValue) {
  for (uint32_t threshold : {0u, 16u}) {
    std::string rec;
    RecordHeader h;
    h.flags = kFlagOwner;
    h.uid = 0x01020304;
    h.gid = 0xFFFFFFFE;
    const std::string value(300, 'v');  // compressible: snappy when threshold is 16
    RecordHeader w = AppendRecord(&rec, h, "key", value, threshold);
    ASSERT_EQ(rec.size(), w.RecordSize());
    EXPECT_EQ(w.ValueOffset(), kHeaderSize + 3 + kOwnerBytes);
    EXPECT_EQ(rec.substr(kHeaderSize, 3), "key");
    EXPECT_EQ(DecodeFixed32(rec.data() + kHeaderSize + 3), 0x01020304u);
    EXPECT_EQ(DecodeFixed32(rec.data() + kHeaderSize + 7), 0xFFFFFFFEu);
    EXPECT_EQ(w.crc, ZlibCrc(std::string_view(rec).substr(4)));
    RecordHeader p;
    std::string_view k, stored;
    ASSERT_TRUE(ParseRecord(rec, &p, &k, &stored).ok());
    EXPECT_EQ(k, "key");
    EXPECT_EQ(p.uid, 0x01020304u);
    EXPECT_EQ(p.gid, 0xFFFFFFFEu);
    std::string out;
    ASSERT_TRUE(DecodeValue(p, stored, &out).ok());
    EXPECT_EQ(out, value);
  }
}

TEST(RecordTest, BlockValueLengthInvertsTheStoredLength) {
  for (uint64_t d : {uint64_t{0}, uint64_t{1}, uint64_t{65535}, uint64_t{65536}, uint64_t{65537},
                     uint64_t{131072}, uint64_t{131073}, uint64_t{1} << 20, uint64_t{1} << 30,
                     uint64_t{0xFFFFFFFF} - 4 * 65536}) {
    const uint64_t stored = d + 4 * ((d + kBlockSize - 1) / kBlockSize);
    uint32_t len = 7;
    ASSERT_TRUE(BlockValueLength(stored, &len)) << d;
    EXPECT_EQ(len, d);
  }
  // Lengths no value can have: one full block is 65540 stored bytes and one
  // more byte of value makes 65545 (a second checksum), so 65541..65544 fit
  // nothing; nor does anything shorter than a checksum.
  uint32_t len = 0;
  for (uint64_t bad : {uint64_t{65541}, uint64_t{65542}, uint64_t{65544}, uint64_t{3}}) {
    EXPECT_FALSE(BlockValueLength(bad, &len)) << bad;
  }
}

TEST(RecordTest, CompressionOnlyAtThresholdAndOnlyWhenSmaller) {
  std::mt19937_64 rng(11);
  RecordHeader h;
  std::string rec;
  // Below the threshold: raw even though it compresses well.
  RecordHeader w = AppendRecord(&rec, h, "k", Compressible(999), 1000);
  EXPECT_EQ(w.codec, kCodecNone);
  EXPECT_EQ(w.flags & kFlagCompressed, 0);
  EXPECT_EQ(w.val_len, 999u);
  // At the threshold: compressed.
  rec.clear();
  w = AppendRecord(&rec, h, "k", Compressible(1000), 1000);
  EXPECT_EQ(w.codec, kCodecSnappy);
  EXPECT_EQ(w.flags & kFlagCompressed, kFlagCompressed);
  EXPECT_LT(w.val_len, 1000u);
  EXPECT_EQ(rec.size(), kHeaderSize + 1 + w.val_len);
  // Threshold 0: never compressed (stored with its two block checksums).
  rec.clear();
  w = AppendRecord(&rec, h, "k", Compressible(100000), 0);
  EXPECT_EQ(w.codec, kCodecNone);
  EXPECT_EQ(w.val_len, 100000u + 2 * 4);
  // Incompressible random data stays raw at any size.
  for (size_t n : {size_t{256}, size_t{4096}, size_t{100000}, size_t{1 << 20}}) {
    rec.clear();
    std::string v = RandomBytes(&rng, n);
    w = AppendRecord(&rec, h, "r", v, 1);
    EXPECT_EQ(w.codec, kCodecNone) << n;
    EXPECT_EQ(w.flags & kFlagCompressed, 0) << n;
    const size_t table = n > kBlockSize ? 4 * ((n + kBlockSize - 1) / kBlockSize) : 0;
    EXPECT_EQ(w.val_len, n + table);
    EXPECT_TRUE(rec.substr(kHeaderSize + 1, n) == v);
  }
  // A tiny value at threshold 1: snappy cannot make 1 byte smaller.
  rec.clear();
  w = AppendRecord(&rec, h, "k", "x", 1);
  EXPECT_EQ(w.codec, kCodecNone);
  // The caller's compressed flag or codec are not trusted.
  RecordHeader lie;
  lie.flags = kFlagCompressed;
  lie.codec = kCodecSnappy;
  rec.clear();
  w = AppendRecord(&rec, lie, "k", "short", 256);
  EXPECT_EQ(w.codec, kCodecNone);
  EXPECT_EQ(w.flags, 0);
  RecordHeader p;
  std::string_view k, v;
  ASSERT_TRUE(ParseRecord(rec, &p, &k, &v).ok());
  EXPECT_EQ(v, "short");
}

TEST(RecordTest, EveryFlippedBitIsDetected) {
  std::vector<std::string> records;
  {
    std::string r;
    RecordHeader h;
    h.timestamp = 1700000000000000000;
    h.expires = 1800000000000000000;
    h.reserved = 0644;
    AppendRecord(&r, h, "key1", "a small value", 256);
    records.push_back(r);
  }
  {
    std::string r;
    RecordHeader h;
    h.timestamp = 99;
    AppendRecord(&r, h, "compressed", Compressible(400), 256);
    ASSERT_EQ(r[29], static_cast<char>(kCodecSnappy));
    records.push_back(r);
  }
  {
    std::string r;
    RecordHeader h;
    h.flags = kFlagOwner;
    h.uid = 65534;
    h.gid = 123;
    AppendRecord(&r, h, "owned", "value", 0);
    records.push_back(r);
  }
  {
    std::string r;
    RecordHeader h;
    h.flags = kFlagTombstone;
    AppendRecord(&r, h, "gone", "", 0);
    records.push_back(r);
  }
  {
    std::string r;
    RecordHeader h;
    h.flags = kFlagBatchCommit;
    AppendRecord(&r, h, "", CountValue(3), 0);
    records.push_back(r);
  }
  for (const std::string& rec : records) {
    RecordHeader p;
    std::string_view k, v;
    ASSERT_TRUE(ParseRecord(rec, &p, &k, &v).ok());
    for (size_t pos = 0; pos < rec.size(); pos++) {
      for (int bit = 0; bit < 8; bit++) {
        std::string bad = rec;
        bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
        Status s = ParseRecord(bad, &p, &k, &v);
        ASSERT_TRUE(s.IsCorruption()) << "byte " << pos << " bit " << bit << ": " << s.ToString();
      }
    }
  }
}

TEST(RecordTest, EveryTruncationIsDetected) {
  std::string rec;
  RecordHeader h;
  h.timestamp = 7;
  AppendRecord(&rec, h, "some key", Compressible(600), 256);
  AppendRecord(&rec, h, "k", "v", 256);  // a second record after it
  RecordHeader first;
  ASSERT_TRUE(DecodeHeader(rec.data(), &first));
  const size_t n = static_cast<size_t>(first.RecordSize());
  RecordHeader p;
  std::string_view k, v;
  for (size_t len = 0; len < n; len++) {
    EXPECT_TRUE(ParseRecord(std::string_view(rec).substr(0, len), &p, &k, &v).IsCorruption())
        << len;
  }
  EXPECT_TRUE(ParseRecord(std::string_view(rec).substr(0, n), &p, &k, &v).ok());
  // Trailing bytes are a length mismatch too.
  EXPECT_TRUE(ParseRecord(std::string_view(rec).substr(0, n + 1), &p, &k, &v).IsCorruption());
  EXPECT_TRUE(ParseRecord(rec, &p, &k, &v).IsCorruption());
}

TEST(RecordTest, LogicalValueLength) {
  RecordHeader h;
  std::string rec;
  RecordHeader w = AppendRecord(&rec, h, "k", "plain value", 0);
  uint32_t len = 0;
  ASSERT_TRUE(LogicalValueLength(w, "", &len).ok());  // raw: from the header alone
  EXPECT_EQ(len, 11u);

  for (size_t n : {size_t{256}, size_t{1000}, size_t{70000}, size_t{5 << 20}}) {
    rec.clear();
    w = AppendRecord(&rec, h, "k", Compressible(n), 256);
    ASSERT_EQ(w.codec, kCodecSnappy);
    std::string_view stored = std::string_view(rec).substr(kHeaderSize + 1);
    // The varint preamble is at most 5 bytes: a prefix of that much is enough.
    ASSERT_TRUE(LogicalValueLength(w, stored.substr(0, 5), &len).ok());
    EXPECT_EQ(len, n);
    ASSERT_TRUE(LogicalValueLength(w, stored, &len).ok());
    EXPECT_EQ(len, n);
  }
  // A compressed record whose preamble is garbage.
  RecordHeader c;
  c.codec = kCodecSnappy;
  c.flags = kFlagCompressed;
  c.val_len = 6;
  EXPECT_TRUE(LogicalValueLength(c, "\xff\xff\xff\xff\xff\xff", &len).IsCorruption());
  EXPECT_TRUE(LogicalValueLength(c, "", &len).IsCorruption());
  std::string out;
  EXPECT_TRUE(DecodeValue(c, "\x05garbage!", &out).IsCorruption());
}

// Found by record_fuzz: a preamble declaring 4 GiB made DecodeValue
// allocate 4 GiB for a 9-byte value. A declared length no snappy stream of
// that size can reach is Corruption, before any allocation.
TEST(RecordTest, ImpossibleSnappyLengthIsCorruption) {
  RecordHeader c;
  c.codec = kCodecSnappy;
  c.flags = kFlagCompressed;
  const std::string bomb("\xf0\xff\xff\xff\x0f\x00" "abc", 9);
  c.val_len = static_cast<uint32_t>(bomb.size());
  uint32_t len = 0;
  EXPECT_TRUE(LogicalValueLength(c, bomb, &len).IsCorruption());
  std::string out;
  EXPECT_TRUE(DecodeValue(c, bomb, &out).IsCorruption());
  EXPECT_LT(out.capacity(), size_t{1} << 20);

  // The densest real stream (long runs) still decodes: 1 MiB of one byte.
  RecordHeader h;
  std::string rec;
  const std::string run(1 << 20, 'a');
  RecordHeader w = AppendRecord(&rec, h, "k", run, 1);
  ASSERT_EQ(w.codec, kCodecSnappy);
  std::string_view stored = std::string_view(rec).substr(kHeaderSize + 1);
  ASSERT_TRUE(LogicalValueLength(w, stored.substr(0, 5), &len).ok());
  EXPECT_EQ(len, run.size());
  ASSERT_TRUE(DecodeValue(w, stored, &out).ok());
  EXPECT_EQ(out, run);
}

// --------------------------------------------------------------- file names

TEST(FileNameTest, Names) {
  EXPECT_EQ(DataFileName("/s/data", 1), "/s/data/000000001.data");
  EXPECT_EQ(HintFileName("/s/data", 1), "/s/data/000000001.hint");
  EXPECT_EQ(DataFileName("d", 123456789), "d/123456789.data");
  EXPECT_EQ(HintFileName("d", 999999999), "d/999999999.hint");
}

TEST(FileNameTest, Parse) {
  uint32_t id = 77;
  EXPECT_EQ(ParseFileName("000000001.data", &id), FileKind::kData);
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(ParseFileName("000000042.hint", &id), FileKind::kHint);
  EXPECT_EQ(id, 42u);
  EXPECT_EQ(ParseFileName("999999999.data", &id), FileKind::kData);
  EXPECT_EQ(id, 999999999u);
  for (const char* tmp : {"000000001.hint.tmp", "000000001.data.tmp", "bitgask.meta.tmp",
                          "x.tmp"}) {
    id = 77;
    EXPECT_EQ(ParseFileName(tmp, &id), FileKind::kTemp) << tmp;
    EXPECT_EQ(id, 77u) << tmp;
  }
  for (const char* other :
       {"", ".tmp", "tmp", "LOCK", "bitgask.meta", "000000000.data", "000000000.hint",
        "00000001.data", "00000001a.data", "-00000001.data", "+00000001.data",
        " 00000001.data", "000000001.dat", "000000001.datax", "000000001.data.bak",
        "000000001.data.damaged-4096", "000000001.hints", "000000001", "000000001.",
        "000000001.DATA", "000000001.tmp.data", "abcdefghi.data", "9999999999.data",
        "4294967296.data", "99999999999999999999.data"}) {
    id = 77;
    EXPECT_EQ(ParseFileName(other, &id), FileKind::kOther) << "'" << other << "'";
    EXPECT_EQ(id, 77u) << other;
  }
}

// Every id a store can use (1..4294967295, docs/Format.md) must survive the
// trip through its file name, or open would ignore that data file.
TEST(FileNameTest, EveryIdRoundTripsThroughItsName) {
  for (uint32_t id : {1u, 2u, 9u, 10u, 123456789u, 999999999u, 1000000000u, 2147483648u,
                      4294967294u, 4294967295u}) {
    const std::string data = DataFileName("dir", id);
    const std::string hint = HintFileName("dir", id);
    uint32_t got = 0;
    EXPECT_EQ(ParseFileName(data.substr(4), &got), FileKind::kData) << data;
    EXPECT_EQ(got, id) << data;
    got = 0;
    EXPECT_EQ(ParseFileName(hint.substr(4), &got), FileKind::kHint) << hint;
    EXPECT_EQ(got, id) << hint;
  }
}

// ------------------------------------------------------------------ scanner

FileBuilder SampleFile() {
  std::mt19937_64 rng(3);
  FileBuilder b;
  b.Put("alpha", "1", 100, 0, 0);
  b.Put("beta", Compressible(5000), 101, 1900000000000000000, 0100644);
  b.Delete("alpha", 102);
  b.Put("gamma", RandomBytes(&rng, 3000), 103, 0, 0);
  b.Meta("beta", kMetaExpires | kMetaMode, 104, 0, 0100600);
  b.Put(std::string("\0bin\xff", 5), "", 105, 0, 0);
  b.Put("delta", Compressible(300, 'z'), -5, 7, 1);
  b.Meta("gamma", kMetaTimestamp, 999, 0, 0);
  return b;
}

TEST(RecordScannerTest, ReturnsRecordsInOrder) {
  FileBuilder b = SampleFile();
  StringFile f(b.data());
  RecordScanner sc(&f, b.data().size(), 17);
  std::vector<LogOp> ops;
  EXPECT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kEnd);
  ASSERT_EQ(ops.size(), b.expected().size());
  for (size_t i = 0; i < ops.size(); i++) ExpectOp(ops[i], b.expected()[i], 17);
  EXPECT_EQ(sc.good_offset(), b.data().size());
  // The compressed put reports its logical length.
  EXPECT_EQ(ops[1].entry.value_len, 5000u);
  EXPECT_LT(ops[1].entry.disk_len, 5000u);
  EXPECT_EQ(ops[1].entry.flags & kFlagCompressed, kFlagCompressed);
  // A clean end stays clean.
  LogOp op;
  EXPECT_EQ(sc.Next(&op), RecordScanner::Result::kEnd);

  // An empty file: kEnd at once.
  StringFile empty("");
  RecordScanner se(&empty, 0, 1);
  EXPECT_EQ(se.Next(&op), RecordScanner::Result::kEnd);
  EXPECT_EQ(se.good_offset(), 0u);
}

TEST(RecordScannerTest, RealFileWithLargeValues) {
  // Values larger than the scanner's 1 MiB buffer, on a real file.
  TempDir dir;
  std::mt19937_64 rng(5);
  FileBuilder b;
  b.Put("small", "x", 1, 0, 0);
  b.Put("huge-random", RandomBytes(&rng, (2 << 20) + 12345), 2, 0, 0);
  b.Put("huge-compressible", Compressible(3 << 20), 3, 0, 0);
  b.Put(std::string(65535, 'k'), RandomBytes(&rng, 1 << 20), 4, 0, 0);
  b.Put("after", "y", 5, 0, 0);
  const std::string path = dir.path() + "/000000001.data";
  Spit(path, b.data());
  std::unique_ptr<RandomAccessFile> f;
  ASSERT_TRUE(Env::Default()->NewRandomAccessFile(path, &f).ok());
  RecordScanner sc(f.get(), b.data().size(), 1);
  std::vector<LogOp> ops;
  EXPECT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kEnd);
  ASSERT_EQ(ops.size(), b.expected().size());
  for (size_t i = 0; i < ops.size(); i++) ExpectOp(ops[i], b.expected()[i], 1);

  // A flipped bit near the end of the 2 MiB value is found.
  std::string bad = b.data();
  const Expected& huge = b.expected()[1];
  bad[huge.offset + huge.size - 3] ^= 0x10;
  StringFile sf(bad);
  RecordScanner sb(&sf, bad.size(), 1);
  EXPECT_EQ(ScanAll(&sb, &ops), RecordScanner::Result::kBad);
  EXPECT_EQ(ops.size(), 1u);
  EXPECT_EQ(sb.bad_offset(), huge.offset);
  EXPECT_EQ(sb.good_offset(), huge.offset);
}

TEST(RecordScannerTest, StopsAtCorruptRecord) {
  FileBuilder b = SampleFile();
  const auto& exp = b.expected();
  // Damage every record in turn, at its first, a middle and its last byte.
  for (size_t k = 0; k < exp.size(); k++) {
    for (uint64_t at : {exp[k].offset, exp[k].offset + exp[k].size / 2,
                        exp[k].offset + exp[k].size - 1}) {
      std::string bad = b.data();
      bad[at] ^= 0x01;
      StringFile f(bad);
      RecordScanner sc(&f, bad.size(), 3);
      std::vector<LogOp> ops;
      ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad)
          << "record " << k << " byte " << at;
      ASSERT_EQ(ops.size(), k);
      for (size_t i = 0; i < k; i++) ExpectOp(ops[i], exp[i], 3);
      EXPECT_EQ(sc.bad_offset(), exp[k].offset);
      EXPECT_EQ(sc.good_offset(), exp[k].offset);
      EXPECT_FALSE(sc.error().empty());
    }
  }
}

TEST(RecordScannerTest, TruncatedTailAtEveryCutPoint) {
  FileBuilder b = SampleFile();
  const auto& exp = b.expected();
  const std::string& data = b.data();
  for (size_t cut = 0; cut <= data.size(); cut++) {
    StringFile f(data.substr(0, cut));
    RecordScanner sc(&f, cut, 9);
    std::vector<LogOp> ops;
    RecordScanner::Result r = ScanAll(&sc, &ops);
    size_t complete = 0;
    while (complete < exp.size() && exp[complete].offset + exp[complete].size <= cut) complete++;
    ASSERT_EQ(ops.size(), complete) << "cut " << cut;
    for (size_t i = 0; i < complete; i++) ExpectOp(ops[i], exp[i], 9);
    const uint64_t boundary = complete == 0 ? 0 : exp[complete - 1].offset + exp[complete - 1].size;
    if (boundary == cut) {
      ASSERT_EQ(r, RecordScanner::Result::kEnd) << "cut " << cut;
    } else {
      ASSERT_EQ(r, RecordScanner::Result::kBad) << "cut " << cut;
      EXPECT_EQ(sc.bad_offset(), boundary) << "cut " << cut;
    }
    EXPECT_EQ(sc.good_offset(), boundary) << "cut " << cut;
  }
}

TEST(RecordScannerTest, RecordsThatCheckButMakeNoSense) {
  // Valid CRC, invalid meaning: each is kBad at its offset.
  FileBuilder prefix;
  prefix.Put("ok", "fine", 1, 0, 0);
  const uint64_t at = prefix.data().size();
  std::vector<std::pair<std::string, std::string>> cases;
  {
    RecordHeader h;
    h.flags = kFlagMetaUpdate;
    cases.emplace_back("meta with 2-byte mask", RawRecord(h, "k", "\x02\x02"));
    cases.emplace_back("meta with no mask", RawRecord(h, "k", ""));
  }
  {
    RecordHeader h;
    h.flags = kFlagBatchCommit;
    cases.emplace_back("commit of 3 bytes", RawRecord(h, "", "\0\0\0"));
    cases.emplace_back("commit of 5 bytes", RawRecord(h, "", std::string(5, '\0')));
  }
  {
    RecordHeader h;
    h.flags = kFlagCompressed;
    h.codec = kCodecSnappy;
    cases.emplace_back("bad snappy preamble", RawRecord(h, "k", "\xff\xff\xff\xff\xff\xff\xff"));
  }
  {
    RecordHeader h;  // claims more bytes than the file has
    h.key_len = 1;
    h.val_len = 1000000;
    std::string r(kHeaderSize, '\0');
    EncodeHeader(h, r.data());
    r += "k";
    r += "short";
    EncodeFixed32(r.data(), ZlibCrc(std::string_view(r).substr(4)));
    cases.emplace_back("length past the end", r);
  }
  for (auto& [name, rec] : cases) {
    std::string data = prefix.data() + rec;
    FileBuilder after;
    after.Put("later", "record", 2, 0, 0);
    data += after.data();
    StringFile f(data);
    RecordScanner sc(&f, data.size(), 1);
    std::vector<LogOp> ops;
    EXPECT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad) << name;
    EXPECT_EQ(ops.size(), 1u) << name;
    EXPECT_EQ(sc.bad_offset(), at) << name;
    EXPECT_EQ(sc.good_offset(), at) << name;
  }
}

// ------------------------------------------------------------------ batches

TEST(RecordScannerTest, CommittedBatchIsReturnedAfterItsCommit) {
  FileBuilder b;
  b.Put("before", "0", 1, 0, 0);
  const size_t batch_first = b.expected().size();
  b.Put("b1", "one", 2, 0, 0, 256, kFlagBatch);
  b.Delete("before", 2, kFlagBatch);
  b.Put("b2", Compressible(2000), 2, 0, 0, 256, kFlagBatch);
  b.Meta("b1", kMetaMode, 2, 0, 0600, kFlagBatch);
  const uint64_t commit_at = b.data().size();
  b.Commit(4);
  const uint64_t after_commit = b.data().size();
  b.Put("after", "9", 3, 0, 0);
  b.Commit(0);  // an empty batch: valid, returns nothing
  const auto& exp = b.expected();
  ASSERT_EQ(exp.size(), 6u);

  StringFile f(b.data());
  RecordScanner sc(&f, b.data().size(), 2);
  LogOp op;
  ASSERT_EQ(sc.Next(&op), RecordScanner::Result::kOp);
  ExpectOp(op, exp[0], 2);
  EXPECT_EQ(sc.good_offset(), exp[1].offset);
  for (size_t i = batch_first; i < batch_first + 4; i++) {
    ASSERT_EQ(sc.Next(&op), RecordScanner::Result::kOp) << i;
    ExpectOp(op, exp[i], 2);
    EXPECT_TRUE(op.entry.flags & kFlagBatch);
    // The whole batch counts as read once its commit is.
    EXPECT_EQ(sc.good_offset(), after_commit);
  }
  EXPECT_GT(after_commit, commit_at);
  ASSERT_EQ(sc.Next(&op), RecordScanner::Result::kOp);
  ExpectOp(op, exp[5], 2);
  EXPECT_EQ(sc.Next(&op), RecordScanner::Result::kEnd);
  EXPECT_EQ(sc.good_offset(), b.data().size());
}

TEST(RecordScannerTest, BatchCutShortIsDroppedAtEveryCutPoint) {
  FileBuilder b;
  b.Put("before", "0", 1, 0, 0);
  const uint64_t batch_start = b.data().size();
  b.Put("b1", "one", 2, 0, 0, 256, kFlagBatch);
  b.Put("b2", Compressible(1000), 2, 0, 0, 256, kFlagBatch);
  b.Delete("before", 2, kFlagBatch);
  b.Commit(3);
  const uint64_t end = b.data().size();
  for (uint64_t cut = batch_start + 1; cut < end; cut++) {
    StringFile f(b.data().substr(0, cut));
    RecordScanner sc(&f, cut, 1);
    std::vector<LogOp> ops;
    ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad) << "cut " << cut;
    ASSERT_EQ(ops.size(), 1u) << "cut " << cut;
    EXPECT_EQ(ops[0].key, "before");
    EXPECT_EQ(sc.good_offset(), batch_start) << "cut " << cut;
    EXPECT_GE(sc.bad_offset(), batch_start) << "cut " << cut;
    EXPECT_LE(sc.bad_offset(), cut) << "cut " << cut;
  }
  // The complete file returns all four.
  StringFile f(b.data());
  RecordScanner sc(&f, end, 1);
  std::vector<LogOp> ops;
  EXPECT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kEnd);
  EXPECT_EQ(ops.size(), 4u);
}

TEST(RecordScannerTest, BatchCountMismatchIsBad) {
  for (uint32_t count : {0u, 1u, 3u, 100u}) {
    FileBuilder b;
    b.Put("before", "0", 1, 0, 0);
    const uint64_t batch_start = b.data().size();
    b.Put("b1", "one", 2, 0, 0, 256, kFlagBatch);
    b.Put("b2", "two", 2, 0, 0, 256, kFlagBatch);
    const uint64_t commit_at = b.data().size();
    b.Commit(count);
    b.Put("after", "9", 3, 0, 0);
    StringFile f(b.data());
    RecordScanner sc(&f, b.data().size(), 1);
    std::vector<LogOp> ops;
    ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad) << count;
    ASSERT_EQ(ops.size(), 1u) << count;
    EXPECT_EQ(sc.bad_offset(), commit_at) << count;
    EXPECT_EQ(sc.good_offset(), batch_start) << count;
  }
}

TEST(RecordScannerTest, BatchInterruptedByPlainRecordIsBad) {
  FileBuilder b;
  b.Put("before", "0", 1, 0, 0);
  const uint64_t batch_start = b.data().size();
  b.Put("b1", "one", 2, 0, 0, 256, kFlagBatch);
  b.Put("plain", "x", 2, 0, 0);
  b.Commit(1);
  StringFile f(b.data());
  RecordScanner sc(&f, b.data().size(), 1);
  std::vector<LogOp> ops;
  ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].key, "before");
  EXPECT_EQ(sc.good_offset(), batch_start);
}

TEST(RecordScannerTest, CorruptRecordInsideBatch) {
  FileBuilder b;
  b.Put("before", "0", 1, 0, 0);
  const uint64_t batch_start = b.data().size();
  b.Put("b1", "one", 2, 0, 0, 256, kFlagBatch);
  const uint64_t second = b.data().size();
  b.Put("b2", "two", 2, 0, 0, 256, kFlagBatch);
  b.Commit(2);
  std::string bad = b.data();
  bad[second + kHeaderSize] ^= 0x40;  // the key of b2
  StringFile f(bad);
  RecordScanner sc(&f, bad.size(), 1);
  std::vector<LogOp> ops;
  ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kBad);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(sc.bad_offset(), second);
  EXPECT_EQ(sc.good_offset(), batch_start);
}

// ------------------------------------------------------ HasValidRecordAfter

TEST(HasValidRecordAfterTest, GarbageFollowedByRecords) {
  std::mt19937_64 rng(9);
  FileBuilder b;
  b.Put("a", "1", 1, 0, 0);
  b.Put("b", "2", 1, 0, 0);
  const uint64_t damage = b.data().size();
  b.Raw(RandomBytes(&rng, 100));
  b.Put("c", "3", 1, 0, 0);
  b.Put("d", Compressible(1000), 1, 0, 0);
  StringFile f(b.data());
  EXPECT_TRUE(HasValidRecordAfter(&f, b.data().size(), damage));
  EXPECT_TRUE(HasValidRecordAfter(&f, b.data().size(), 0));

  // A record with a flipped bit, followed by a good one.
  FileBuilder c;
  c.Put("a", "1", 1, 0, 0);
  const uint64_t bad_at = c.data().size();
  c.Put("b", "value two", 1, 0, 0);
  c.Put("c", "3", 1, 0, 0);
  std::string data = c.data();
  data[bad_at + kHeaderSize + 2] ^= 0x04;
  StringFile g(data);
  EXPECT_TRUE(HasValidRecordAfter(&g, data.size(), bad_at));
  // From past the last record's start there is nothing.
  EXPECT_FALSE(HasValidRecordAfter(&g, data.size(), c.expected()[2].offset));
}

TEST(HasValidRecordAfterTest, TornTailIsNotEvidence) {
  std::mt19937_64 rng(10);
  FileBuilder b;
  b.Put("a", "1", 1, 0, 0);
  b.Put("b", Compressible(3000), 1, 0, 0);
  b.Put("c", RandomBytes(&rng, 5000), 1, 0, 0);
  const auto& exp = b.expected();
  const Expected& last = exp.back();
  // The last record cut at every point: a pure torn tail.
  for (uint64_t cut = last.offset; cut < last.offset + last.size; cut += 7) {
    StringFile f(b.data().substr(0, cut));
    EXPECT_FALSE(HasValidRecordAfter(&f, cut, last.offset)) << cut;
  }
  // Zeros (a preallocated tail) and random garbage are not records either.
  std::string zeros = b.data() + std::string(100000, '\0');
  StringFile z(zeros);
  EXPECT_FALSE(HasValidRecordAfter(&z, zeros.size(), b.data().size()));
  std::string junk = b.data() + RandomBytes(&rng, 200000);
  StringFile j(junk);
  EXPECT_FALSE(HasValidRecordAfter(&j, junk.size(), b.data().size()));
  // Empty range.
  EXPECT_FALSE(HasValidRecordAfter(&j, junk.size(), junk.size()));
}

TEST(HasValidRecordAfterTest, RecordsBeyondTheFirstWindow) {
  // The search reads 1 MiB windows that overlap by a header: a record placed
  // anywhere near a window edge is still found.
  std::mt19937_64 rng(12);
  FileBuilder rec;
  rec.Put("needle", "in a haystack", 1, 0, 0);
  const uint64_t window = 1 << 20;
  for (uint64_t pos : {window - 40, window - 33, window - 32, window - 31, window - 1, window,
                       window + 1, 2 * window - 60, 3 * window + 5}) {
    std::string data = RandomBytes(&rng, pos);  // garbage up to pos (from = 0)
    data += rec.data();
    data += RandomBytes(&rng, 50);
    StringFile f(data);
    EXPECT_TRUE(HasValidRecordAfter(&f, data.size(), 0)) << pos;
  }
}

// ------------------------------------------------------------ ReadRecord

TEST(ReadRecordTest, ChecksKeyCrcAndLength) {
  FileBuilder b;
  b.Put("first", "1", 1, 0, 0);
  b.Put("second", Compressible(500), 2, 0, 0);
  StringFile f(b.data());
  const Expected& e = b.expected()[1];
  std::string buf;
  RecordHeader h;
  std::string_view stored;
  ASSERT_TRUE(ReadRecord(&f, e.offset, e.size, "second", &buf, &h, &stored).ok());
  std::string value;
  ASSERT_TRUE(DecodeValue(h, stored, &value).ok());
  EXPECT_EQ(value, Compressible(500));
  EXPECT_TRUE(ReadRecord(&f, e.offset, e.size, "other", &buf, &h, &stored).IsCorruption());
  EXPECT_TRUE(ReadRecord(&f, e.offset, e.size - 1, "second", &buf, &h, &stored).IsCorruption());
  EXPECT_TRUE(ReadRecord(&f, e.offset, e.size + 1, "second", &buf, &h, &stored).IsCorruption());
  EXPECT_TRUE(ReadRecord(&f, e.offset + 1, e.size, "second", &buf, &h, &stored).IsCorruption());
  std::string bad = b.data();
  bad[e.offset + e.size - 1] ^= 1;
  StringFile g(bad);
  EXPECT_TRUE(ReadRecord(&g, e.offset, e.size, "second", &buf, &h, &stored).IsCorruption());
  StringFile cut(b.data().substr(0, b.data().size() - 1));
  EXPECT_TRUE(ReadRecord(&cut, e.offset, e.size, "second", &buf, &h, &stored).IsCorruption());
}

// ------------------------------------------------------------- hint files

std::vector<LogOp> HintOps(size_t n, std::mt19937_64* rng) {
  std::vector<LogOp> ops;
  for (size_t i = 0; i < n; i++) {
    LogOp op;
    op.kind = static_cast<LogOp::Kind>(i % 3);
    op.meta_mask = op.kind == LogOp::kMeta ? static_cast<uint8_t>(1 + i % 7) : 0;
    op.key = "key-" + std::to_string(i) + "-" + std::string((*rng)() % 40, 'x');
    if (i % 1000 == 17) op.key = RandomBytes(rng, 1 + (*rng)() % 300);
    op.entry.offset = static_cast<uint32_t>((*rng)());
    op.entry.disk_len = static_cast<uint32_t>((*rng)());
    op.entry.value_len = static_cast<uint32_t>((*rng)());
    op.entry.timestamp = static_cast<int64_t>((*rng)());
    op.entry.expires = i % 5 == 0 ? 0 : static_cast<int64_t>((*rng)());
    op.entry.mode = static_cast<uint16_t>((*rng)());
    op.entry.flags = static_cast<uint8_t>((*rng)() & (kKnownFlags | kEntryHasOwner));
    if (op.entry.has_owner()) {  // a trailer of 8 bytes after the key
      op.entry.uid = static_cast<uint32_t>((*rng)());
      op.entry.gid = static_cast<uint32_t>((*rng)());
    }
    op.entry.file_id = 12345;  // not stored: the reader sets its own
    op.record_size = static_cast<uint32_t>((*rng)());
    ops.push_back(op);
  }
  return ops;
}

Status WriteHint(const std::string& dir, const std::string& path, const std::vector<LogOp>& ops) {
  HintWriter w(Env::Default(), path);
  Status s = w.Open();
  for (size_t i = 0; s.ok() && i < ops.size(); i++) s = w.Add(ops[i]);
  if (s.ok()) s = w.Finish(dir);
  return s;
}

void ExpectSameOps(const std::vector<LogOp>& got, const std::vector<LogOp>& want,
                   uint32_t file_id) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++) {
    SCOPED_TRACE("entry " + std::to_string(i));
    EXPECT_EQ(got[i].kind, want[i].kind);
    EXPECT_EQ(got[i].meta_mask, want[i].meta_mask);
    EXPECT_EQ(got[i].key, want[i].key);
    EXPECT_EQ(got[i].record_size, want[i].record_size);
    KeydirEntry e = want[i].entry;
    e.file_id = file_id;
    EXPECT_TRUE(got[i].entry == e);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(HintFileTest, RoundTripAcrossTheFlushBoundary) {
  TempDir dir;
  std::mt19937_64 rng(21);
  std::vector<LogOp> ops = HintOps(40000, &rng);  // ~3 MiB of entries: several flushes
  LogOp longkey;
  longkey.key = std::string(65535, 'L');
  ops.push_back(longkey);
  const std::string path = dir.path() + "/000000007.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, ops).ok());
  EXPECT_TRUE(Env::Default()->FileExists(path));
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
  uint64_t size = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size).ok());
  EXPECT_GT(size, 2u << 20);

  std::vector<LogOp> got;
  Status s = ReadHintFile(Env::Default(), path, 7, [&](LogOp& op) { got.push_back(op); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameOps(got, ops, 7);
}

TEST(HintFileTest, EmptyHint) {
  TempDir dir;
  const std::string path = dir.path() + "/000000001.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, {}).ok());
  int calls = 0;
  EXPECT_TRUE(ReadHintFile(Env::Default(), path, 1, [&](LogOp&) { calls++; }).ok());
  EXPECT_EQ(calls, 0);
  uint64_t size = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size).ok());
  EXPECT_EQ(size, 20u);  // the trailer alone
}

TEST(HintFileTest, EveryFlippedBitIsCorruptionWithoutCallbacks) {
  TempDir dir;
  std::mt19937_64 rng(22);
  std::vector<LogOp> ops = HintOps(25, &rng);
  const std::string path = dir.path() + "/000000003.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, ops).ok());
  const std::string good = Slurp(path);
  ASSERT_GT(good.size(), 1000u);
  const std::string bad_path = dir.path() + "/bad.hint";
  for (size_t pos = 0; pos < good.size(); pos++) {
    for (int bit : {static_cast<int>(pos % 8), static_cast<int>((pos + 3) % 8)}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      Spit(bad_path, bad);
      int calls = 0;
      Status s = ReadHintFile(Env::Default(), bad_path, 3, [&](LogOp&) { calls++; });
      ASSERT_TRUE(s.IsCorruption()) << "byte " << pos << " bit " << bit << ": " << s.ToString();
      ASSERT_EQ(calls, 0) << "byte " << pos;
    }
  }
}

TEST(HintFileTest, FlippedBitsInALargeHint) {
  TempDir dir;
  std::mt19937_64 rng(23);
  std::vector<LogOp> ops = HintOps(30000, &rng);  // ~2 MiB
  const std::string path = dir.path() + "/000000004.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, ops).ok());
  const std::string good = Slurp(path);
  const std::string bad_path = dir.path() + "/bad.hint";
  std::vector<size_t> positions = {0, 1, (1u << 20) - 1, 1u << 20, (1u << 20) + 1,
                                   good.size() / 2, good.size() - 1, good.size() - 20,
                                   good.size() - 12, good.size() - 8, good.size() - 21};
  for (int i = 0; i < 40; i++) positions.push_back(rng() % good.size());
  for (size_t pos : positions) {
    ASSERT_LT(pos, good.size());
    std::string bad = good;
    bad[pos] ^= 0x20;
    Spit(bad_path, bad);
    int calls = 0;
    Status s = ReadHintFile(Env::Default(), bad_path, 4, [&](LogOp&) { calls++; });
    EXPECT_TRUE(s.IsCorruption()) << pos;
    EXPECT_EQ(calls, 0) << pos;
  }
}

TEST(HintFileTest, TruncatedOrExtendedIsCorruption) {
  TempDir dir;
  std::mt19937_64 rng(24);
  std::vector<LogOp> ops = HintOps(20, &rng);
  const std::string path = dir.path() + "/000000005.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, ops).ok());
  const std::string good = Slurp(path);
  const std::string bad_path = dir.path() + "/cut.hint";
  for (size_t len = 0; len < good.size(); len++) {
    Spit(bad_path, good.substr(0, len));
    int calls = 0;
    Status s = ReadHintFile(Env::Default(), bad_path, 5, [&](LogOp&) { calls++; });
    ASSERT_TRUE(s.IsCorruption()) << "length " << len << ": " << s.ToString();
    ASSERT_EQ(calls, 0) << len;
  }
  // Bytes after the trailer, or a leading byte, also break it.
  for (const std::string& bad : {good + "x", "x" + good, good + good}) {
    Spit(bad_path, bad);
    int calls = 0;
    EXPECT_TRUE(ReadHintFile(Env::Default(), bad_path, 5, [&](LogOp&) { calls++; }).IsCorruption());
    EXPECT_EQ(calls, 0);
  }
  // A missing file is an I/O error, not corruption.
  Status s = ReadHintFile(Env::Default(), dir.path() + "/absent.hint", 5, [](LogOp&) {});
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
}

TEST(HintFileTest, LayoutMatchesTheFormat) {
  TempDir dir;
  LogOp op;
  op.kind = LogOp::kMeta;
  op.meta_mask = kMetaExpires;
  op.key = "kk";
  op.entry.timestamp = 0x0807060504030201ll;
  op.entry.expires = 0x100F0E0D0C0B0A09ll;
  op.entry.offset = 0x14131211u;
  op.entry.disk_len = 0x18171615u;
  op.entry.value_len = 0x1C1B1A19u;
  op.record_size = 0x201F1E1Du;
  op.entry.flags = kFlagMetaUpdate;
  op.entry.mode = 0x2221;
  const std::string path = dir.path() + "/000000001.hint";
  ASSERT_TRUE(WriteHint(dir.path(), path, {op}).ok());
  const std::string f = Slurp(path);
  ASSERT_EQ(f.size(), 39u + 2 + 20);
  EXPECT_EQ(DecodeFixed64(f.data()), 0x0807060504030201ull);
  EXPECT_EQ(DecodeFixed64(f.data() + 8), 0x100F0E0D0C0B0A09ull);
  EXPECT_EQ(DecodeFixed32(f.data() + 16), 0x14131211u);
  EXPECT_EQ(DecodeFixed32(f.data() + 20), 0x18171615u);
  EXPECT_EQ(DecodeFixed32(f.data() + 24), 0x1C1B1A19u);
  EXPECT_EQ(DecodeFixed32(f.data() + 28), 0x201F1E1Du);
  EXPECT_EQ(DecodeFixed16(f.data() + 32), 2u);
  EXPECT_EQ(f[34], 2);
  EXPECT_EQ(f[35], static_cast<char>(kMetaExpires));
  EXPECT_EQ(f[36], static_cast<char>(kFlagMetaUpdate));
  EXPECT_EQ(DecodeFixed16(f.data() + 37), 0x2221u);
  EXPECT_EQ(f.substr(39, 2), "kk");
  EXPECT_EQ(DecodeFixed64(f.data() + 41), 1u);
  EXPECT_EQ(DecodeFixed32(f.data() + 49), ZlibCrc(std::string_view(f).substr(0, 49)));
  EXPECT_EQ(f.substr(53), "BGKHINT1");
}

// The sorted writer (what the engine uses) writes entries in key order, a
// key's entries in the order added; with a DeleteAll marker, in log order.
TEST(HintFileTest, SortedWriterWritesKeyOrderStableOrLogOrderWithAClear) {
  TempDir dir;
  std::mt19937_64 rng(22);
  std::vector<LogOp> ops = HintOps(30000, &rng);  // several flushes of sorted output
  for (size_t i = 0; i < ops.size(); i++) {
    ops[i].key = "key" + std::to_string(rng() % 5000);  // duplicates, in log order
    ops[i].kind = static_cast<LogOp::Kind>(rng() % 3);  // put, delete, meta
    ops[i].record_size = static_cast<uint32_t>(i);      // tells duplicates apart
  }
  auto write_sorted = [&](const std::string& path, const std::vector<LogOp>& in) {
    HintWriter w(Env::Default(), path, /*sort_by_key=*/true);
    Status s = w.Open();
    for (size_t i = 0; s.ok() && i < in.size(); i++) s = w.Add(in[i]);
    if (s.ok()) s = w.Finish(dir.path());
    return s;
  };
  const std::string path = dir.path() + "/000000007.hint";
  ASSERT_TRUE(write_sorted(path, ops).ok());
  std::vector<LogOp> got;
  ASSERT_TRUE(ReadHintFile(Env::Default(), path, 7, [&](LogOp& op) { got.push_back(op); }).ok());
  std::vector<LogOp> want = ops;
  std::stable_sort(want.begin(), want.end(),
                   [](const LogOp& a, const LogOp& b) { return a.key < b.key; });
  ExpectSameOps(got, want, 7);

  LogOp clear;
  clear.kind = LogOp::kClear;
  ops.insert(ops.begin() + 100, clear);
  const std::string path2 = dir.path() + "/000000008.hint";
  ASSERT_TRUE(write_sorted(path2, ops).ok());
  got.clear();
  ASSERT_TRUE(ReadHintFile(Env::Default(), path2, 8, [&](LogOp& op) { got.push_back(op); }).ok());
  ExpectSameOps(got, ops, 8);
}

// The unsynced-predecessor marker (DBImpl::Rotate): decoded, skipped by scans
// at offset 0 (it changes no key), refused anywhere else or at a wrong size,
// and read by FirstRecordValid.
TEST(RecordScannerTest, UnsyncedPredecessorMarker) {
  RecordHeader h;
  h.flags = kFlagsUnsyncedPredecessor;
  std::string value(8, '\0');
  EncodeFixed32(value.data(), 41);
  EncodeFixed32(value.data() + 4, 123456);
  const std::string marker = RawRecord(h, "", value);
  RecordHeader d;
  ASSERT_TRUE(DecodeHeader(marker.data(), &d));
  FileBuilder rest;
  rest.Put("a", "alpha", 1, 0, 0);
  rest.Delete("a", 2);

  const std::string good = marker + rest.data();
  StringFile f(good);
  RecordScanner sc(&f, good.size(), 42);
  std::vector<LogOp> ops;
  ASSERT_EQ(ScanAll(&sc, &ops), RecordScanner::Result::kEnd);
  ASSERT_EQ(ops.size(), 2u) << "the marker is not an op";
  EXPECT_EQ(ops[0].key, "a");
  EXPECT_EQ(ops[0].entry.offset, marker.size());
  EXPECT_EQ(ops[1].kind, LogOp::kDelete);
  PredecessorMark mark;
  ASSERT_TRUE(FirstRecordValid(&f, good.size(), &mark));
  EXPECT_EQ(mark.id, 41u);
  EXPECT_EQ(mark.size, 123456u);

  // Alone, then cut inside it: a clean end, then a torn record at 0.
  StringFile alone(marker);
  RecordScanner sa(&alone, marker.size(), 42);
  EXPECT_EQ(ScanAll(&sa, &ops), RecordScanner::Result::kEnd);
  EXPECT_TRUE(ops.empty());
  RecordScanner cut(&alone, marker.size() - 1, 42);
  EXPECT_EQ(ScanAll(&cut, &ops), RecordScanner::Result::kBad);
  EXPECT_EQ(cut.good_offset(), 0u);
  EXPECT_FALSE(FirstRecordValid(&alone, marker.size() - 1, &mark));

  // After another record, or with a value of the wrong size: bad.
  const std::string late = rest.data() + marker;
  StringFile lf(late);
  RecordScanner sl(&lf, late.size(), 42);
  EXPECT_EQ(ScanAll(&sl, &ops), RecordScanner::Result::kBad);
  EXPECT_EQ(sl.bad_offset(), rest.data().size());
  const std::string short_marker = RawRecord(h, "", "\x29\0\0\0");
  StringFile sf(short_marker);
  RecordScanner ss(&sf, short_marker.size(), 42);
  EXPECT_EQ(ScanAll(&ss, &ops), RecordScanner::Result::kBad);

  // Another first record says nothing of a predecessor.
  StringFile rf(rest.data());
  ASSERT_TRUE(FirstRecordValid(&rf, rest.data().size(), &mark));
  EXPECT_EQ(mark.id, 0u);
}

}  // namespace
}  // namespace internal
}  // namespace bitgask
