// make_seeds: writes the seed corpora of the fuzz targets (corpus/NAME/):
//
//   make -C build/tests/fuzz make_seeds && build/tests/fuzz/make_seeds tests/fuzz/corpus
//
// Seeds are small valid inputs in each target's input layout (see the
// comment at the top of each NAME_fuzz.cc), made with the engine's own
// encoders with fixed timestamps, so running this again gives the same
// bytes. The checked-in corpus also holds regression inputs for fixed bugs
// (files named regress-*); this program never touches those.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bitgask/env.h"
#include "coding.h"
#include "data_file.h"
#include "hint_file.h"
#include "record.h"

using namespace bitgask;
using namespace bitgask::internal;

namespace {

std::string g_root;

void Write(const std::string& target, const std::string& name, uint8_t flags,
           const std::string& body) {
  std::filesystem::create_directories(g_root + "/" + target);
  std::ofstream out(g_root + "/" + target + "/" + name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(flags));
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
  if (!out.good()) {
    std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", target.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string Record(uint8_t flags, const std::string& key, const std::string& value,
                   uint32_t threshold = 0, int64_t expires = 0, uint16_t mode = 0100644) {
  RecordHeader h;
  h.timestamp = 1700000000000000000;
  h.expires = expires;
  h.flags = flags;
  h.reserved = mode;
  std::string out;
  AppendRecord(&out, h, key, value, threshold);
  return out;
}

std::string BatchCommit(uint32_t count) {
  std::string v;
  PutFixed32(&v, count);
  return Record(kFlagBatchCommit, "", v);
}

std::string Length(const std::string& s) {
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(s.size()));
  return out;
}

// The hint file the engine would write for the data file `data`.
std::string HintFor(const std::string& data) {
  Env* env = Env::Default();
  const std::string dir = std::filesystem::temp_directory_path() / "bitgask-make-seeds";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/d", std::ios::binary).write(data.data(), data.size());
  std::unique_ptr<RandomAccessFile> file;
  if (!env->NewRandomAccessFile(dir + "/d", &file).ok()) std::exit(1);
  RecordScanner scanner(file.get(), data.size(), 1);
  HintWriter hint(env, dir + "/h");
  if (!hint.Open().ok()) std::exit(1);
  LogOp op;
  while (scanner.Next(&op) == RecordScanner::Result::kOp) {
    if (!hint.Add(op).ok()) std::exit(1);
  }
  if (!hint.Finish(dir).ok()) std::exit(1);
  std::ifstream in(dir + "/h", std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  g_root = argv[1];
  const std::string compressible(300, 'z');
  std::string big(kBlockSize + 100, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7 + i / 300);

  // record: one record, flags byte 0 (as is) or 1 (reseal the CRC).
  Write("record", "put", 0, Record(0, "user:1", "hello"));
  Write("record", "put-ttl", 1, Record(0, "session", "abc", 0, 1800000000000000000));
  Write("record", "snappy", 0, Record(0, "z", compressible, 1));
  Write("record", "tombstone", 0, Record(kFlagTombstone, "gone", ""));
  Write("record", "delete-all", 0, Record(kFlagTombstone, "", ""));
  Write("record", "meta-update", 0, Record(kFlagMetaUpdate, "k", std::string(1, kMetaMode)));
  Write("record", "batch-commit", 0, BatchCommit(2));
  Write("record", "block-checksums", 0, Record(0, "big", big));

  // A closed data file with puts, a TTL, an overwrite, a delete, a metadata
  // update, a compressed value and a committed batch; its hint; an active file.
  const std::string data1 = Record(0, "a", "1") + Record(0, "b/c", "2", 0, 1900000000000000000) +
                            Record(0, "a", "3") + Record(kFlagTombstone, "b/c", "") +
                            Record(kFlagMetaUpdate, "a", std::string(1, kMetaMode), 0, 0, 0100600) +
                            Record(0, "z", compressible, 1) + Record(kFlagBatch, "x", "4") +
                            Record(kFlagBatch, "y", "5") + BatchCommit(2);
  const std::string hint1 = HintFor(data1);
  const std::string data2 = Record(0, "c", "6") + Record(kFlagTombstone, "x", "") +
                            Record(0, "d", "7");
  const std::string meta =
      "{\"format\": \"bitgask\", \"format_version\": 1, \"created_unix_ns\": 1700000000000000000}\n";

  // hint: flags byte 0 (as is) or 1 (reseal the trailer), then the file.
  Write("hint", "hint", 0, hint1);
  Write("hint", "hint-reseal", 1, hint1);
  Write("hint", "empty", 0, HintFor(""));

  // store: flags | len data1 | data1 | len hint1 | hint1 | len data2 | data2 | meta.
  auto store = [&](const std::string& d1, const std::string& h1, const std::string& d2) {
    return Length(d1) + d1 + Length(h1) + h1 + Length(d2) + d2 + meta;
  };
  Write("store", "two-files", 0, store(data1, hint1, data2));
  Write("store", "no-hint", 0, store(data1, "", data2));
  Write("store", "torn-tail", 1, store(data1, hint1, data2.substr(0, data2.size() - 5)));
  Write("store", "validate", 8, store(data1, hint1, data2));
  Write("store", "delete-all", 0, store(data1, hint1, data2 + Record(kFlagTombstone, "", "")));
  Write("store", "bad-middle", 0,
        store(data1.substr(0, 40) + "garbage!" + data1.substr(48), hint1, data2));

  // path: flags (bit 0: also KeyView over the keys split at '\n'), then text.
  Write("path", "file", 0, "notes/today");
  Write("path", "marker", 0, "a/b/");
  Write("path", "reserved", 0, ".bitgask/unmapped/x");
  Write("path", "dots", 0, "a/../b");
  Write("path", "escape", 0, "100%/\x01\xff");
  Write("path", "long", 0, std::string(120, '%') + std::string(100, 'a'));
  Write("path", "join", 0, "dir/sub\nname");
  Write("path", "keyview", 1, "a\na/b\na/\nb/c/d\n.bitgask\nx%y\n/abs\nc//d\n..\n" +
                                  std::string(300, 'n'));
  return 0;
}
