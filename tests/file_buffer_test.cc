// fs::FileBuffer: contents in memory, then in the spill file, and the block
// CRCs it keeps for DB::PutFromFile once spilled.
#include "file_buffer.h"

#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace bitgask {
namespace fs {
namespace {

constexpr uint64_t kBlock = FileBuffer::kBlockBytes;

// zlib's CRC-32 of each block of s: what the engine would compute.
std::vector<uint32_t> ModelCrcs(const std::string& s) {
  std::vector<uint32_t> crcs;
  for (uint64_t off = 0; off < s.size(); off += kBlock) {
    const uint64_t len = std::min<uint64_t>(kBlock, s.size() - off);
    crcs.push_back(static_cast<uint32_t>(
        ::crc32(0, reinterpret_cast<const Bytef*>(s.data() + off), static_cast<uInt>(len))));
  }
  return crcs;
}

std::string Contents(const FileBuffer& b) {
  std::string out(b.size(), '\0');
  EXPECT_EQ(b.ReadExactly(0, out.size(), out.data()), 0);
  return out;
}

std::string RandomBytes(std::mt19937_64* rng, size_t n) {
  std::string s(n + 8, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t x = (*rng)();
    std::memcpy(&s[i], &x, 8);
  }
  s.resize(n);
  return s;
}

class FileBufferTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"file_buffer_test"};
};

// Sequential writes, as the kernel's writeback sends them: every block's CRC
// is known from the writes alone. Shown by changing the spill file behind
// the buffer's back: BlockCrcs still gives the CRCs of what was written,
// so it did not read the file.
TEST_F(FileBufferTest, SequentialWritesKnowEveryBlockWithoutReadingTheFile) {
  std::mt19937_64 rng(1);
  FileBuffer b(dir_.path());
  const std::string data = RandomBytes(&rng, (20 << 20) + 12345);
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    const size_t n = std::min<size_t>(1 << 20, data.size() - off);
    ASSERT_EQ(b.Write(off, data.data() + off, n), 0);
  }
  ASSERT_FALSE(b.in_memory());
  ASSERT_GE(b.fd(), 0);
  std::vector<uint32_t> crcs;
  ASSERT_EQ(b.BlockCrcs(&crcs), 0);
  EXPECT_EQ(crcs, ModelCrcs(data));
  const std::string zeros(1 << 20, '\0');
  ASSERT_EQ(::pwrite(b.fd(), zeros.data(), zeros.size(), 0), static_cast<ssize_t>(zeros.size()));
  ASSERT_EQ(b.BlockCrcs(&crcs), 0);
  EXPECT_EQ(crcs, ModelCrcs(data));

  // Small unaligned appends (4000 bytes) extend the blocks they end in.
  FileBuffer small(dir_.path());
  for (size_t off = 0; off < data.size(); off += 4000) {
    ASSERT_EQ(small.Write(off, data.data() + off, std::min<size_t>(4000, data.size() - off)), 0);
  }
  ASSERT_EQ(::pwrite(small.fd(), zeros.data(), zeros.size(), 0),
            static_cast<ssize_t>(zeros.size()));
  ASSERT_EQ(small.BlockCrcs(&crcs), 0);
  EXPECT_EQ(crcs, ModelCrcs(data));
}

// Any mix of writes (overlapping, unaligned, past the end) and truncations:
// the CRCs and the contents always match a plain string doing the same.
TEST_F(FileBufferTest, RandomWritesAndTruncationsKeepTheCrcsRight) {
  for (uint64_t seed = 1; seed <= 4; seed++) {
    std::mt19937_64 rng(seed);
    FileBuffer b(dir_.path());
    std::string model = RandomBytes(&rng, FileBuffer::kSpillBytes + 100);
    ASSERT_EQ(b.Write(0, model.data(), model.size()), 0);
    for (int step = 0; step < 300; step++) {
      const int op = static_cast<int>(rng() % 10);
      if (op == 0) {  // truncate, shorter or longer, sometimes to a block boundary
        uint64_t size = rng() % (model.size() + 3 * kBlock);
        if (rng() % 3 == 0) size -= size % kBlock;
        ASSERT_EQ(b.Truncate(size), 0);
        model.resize(size, '\0');
      } else {
        uint64_t off;
        switch (op % 3) {
          case 0: off = model.size(); break;                             // append
          case 1: off = model.size() + rng() % (2 * kBlock); break;      // past the end: a hole
          default: off = rng() % (model.size() + 1); break;              // anywhere
        }
        if (rng() % 2) off -= off % kBlock;
        const size_t n = static_cast<size_t>(1 + rng() % (3 * kBlock));
        const std::string data = RandomBytes(&rng, n);
        ASSERT_EQ(b.Write(off, data.data(), n), 0);
        if (off > model.size()) model.resize(off, '\0');
        model.replace(off, std::min<size_t>(n, model.size() - off), data);
      }
      ASSERT_EQ(b.size(), model.size());
      if (step % 25 == 0 || step == 299) {
        std::vector<uint32_t> crcs;
        ASSERT_EQ(b.BlockCrcs(&crcs), 0);
        ASSERT_EQ(crcs, ModelCrcs(model)) << "seed " << seed << " step " << step;
        ASSERT_TRUE(Contents(b) == model) << "seed " << seed << " step " << step;
      }
    }
  }
}

TEST_F(FileBufferTest, SmallContentsStayInMemoryAndClearStartsOver) {
  FileBuffer b(dir_.path());
  ASSERT_EQ(b.Write(5, "abc", 3), 0);
  EXPECT_TRUE(b.in_memory());
  EXPECT_EQ(b.fd(), -1);
  EXPECT_EQ(Contents(b), std::string("\0\0\0\0\0abc", 8));
  std::vector<uint32_t> crcs;
  EXPECT_EQ(b.BlockCrcs(&crcs), EINVAL);  // only for a spilled buffer
  ASSERT_EQ(b.Truncate(FileBuffer::kSpillBytes + 1), 0);
  EXPECT_FALSE(b.in_memory());
  ASSERT_EQ(b.BlockCrcs(&crcs), 0);
  std::string model(FileBuffer::kSpillBytes + 1, '\0');
  model.replace(5, 3, "abc");
  EXPECT_EQ(crcs, ModelCrcs(model));
  b.Clear();
  EXPECT_TRUE(b.in_memory());
  EXPECT_EQ(b.size(), 0u);
}

}  // namespace
}  // namespace fs
}  // namespace bitgask
