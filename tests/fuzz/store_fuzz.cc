// Fuzz target: opening a store made of hostile files (DB::Open, reads,
// Validate, Repair).
//
// Input: flags (1) | data1 | hint1 | data2 | meta, each of the first three
// preceded by its length (4 bytes, little-endian, cut to what is left); the
// rest is the meta file. They become data/000000001.data, its hint
// 000000001.hint (read at open, as for any closed file), the active file
// 000000002.data and data/bitgask.meta. Flags: bit 0 reseals the data
// files' record CRCs, bit 1 reseals the hint trailer, bit 2 writes a valid
// meta file instead of the input's, bit 3 opens with validate_on_open.
//
// Errors are fine; crashes, hangs and allocations sized by a length field are
// not. Checked properties: every key the store lists is either read by Get
// or reported as damaged, the same way by an iterator; Validate runs; and
// after a Repair that succeeds the meta file is sound, the store opens and
// Validate calls it sound (a damaged meta file is rewritten by Repair when the
// data files hold a valid record, or Repair fails).
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bitgask/db.h"
#include "fuzz_input.h"
#include "fuzz_target.h"
#include "fuzz_temp_dir.h"
#include "meta_file.h"
#include "reseal.h"

using namespace bitgask;

namespace {

Options FuzzOptions(bool validate_on_open) {
  Options o;
  o.merge_interval = std::chrono::milliseconds(0);  // no background merge
  o.validate_on_open = validate_on_open;
  o.create_if_missing = true;
  return o;
}

// Reads every key the open store lists, by Get and by an iterator.
void ReadEverything(DB* db) {
  std::vector<std::string> keys;
  if (!db->Keys(&keys).ok()) return;
  for (const std::string& key : keys) {
    std::string value;
    Status s = db->Get(key, &value);
    FUZZ_CHECK(s.ok() || s.IsCorruption() || s.IsNotFound() || s.IsIOError());
  }
  std::unique_ptr<Iterator> it;
  if (!db->NewIterator("", &it).ok()) return;
  size_t seen = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string value, again;
    Status s = it->value(&value);
    FUZZ_CHECK(s.ok() || s.IsCorruption() || s.IsIOError());
    // Nothing writes meanwhile, so Get reads the same record (unless the
    // key's TTL ran out in between).
    Status g = db->Get(it->key(), &again);
    if (!g.IsNotFound()) {
      FUZZ_CHECK(s.ok() == g.ok());
      if (s.ok()) FUZZ_CHECK(value == again);
    }
    seen++;
  }
  FUZZ_CHECK(seen <= keys.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = setenv("BITGASK_LOG_LEVEL", "off", 0) == 0;
  (void)quiet;
  FuzzInput in(data, size);
  const uint8_t flags = in.TakeByte();
  std::string data1(in.TakeLengthPrefixed());
  std::string hint1(in.TakeLengthPrefixed());
  std::string data2(in.TakeLengthPrefixed());
  std::string meta(in.Rest());
  if (flags & 1) {
    ResealDataFile(&data1);
    ResealDataFile(&data2);
  }
  if (flags & 2) ResealHintFile(&hint1);
  if (flags & 4) {
    meta = "{\"format\": \"bitgask\", \"format_version\": " + std::to_string(kFormatVersion) +
           ", \"created_unix_ns\": 1700000000000000000}\n";
  }

  FuzzTempDir::Reset();
  const std::string store = FuzzTempDir::Path() + "/store";
  std::filesystem::create_directories(store + "/data");
  FuzzTempDir::WriteFile("store/data/000000001.data", data1);
  FuzzTempDir::WriteFile("store/data/000000001.hint", hint1);
  FuzzTempDir::WriteFile("store/data/000000002.data", data2);
  FuzzTempDir::WriteFile("store/data/bitgask.meta", meta);

  const Options options = FuzzOptions(flags & 8);
  {
    std::unique_ptr<DB> db;
    if (DB::Open(store, options, &db).ok()) {
      ReadEverything(db.get());
      FUZZ_CHECK(db->Close().ok());
    }
  }
  ValidateReport validated;
  (void)DB::Validate(store, &validated);  // any verdict is fine here; it must just return
  RepairReport repaired;
  if (!DB::Repair(store, options, &repaired).ok()) return 0;
  int version = 0;
  FUZZ_CHECK(internal::ReadMetaFile(Env::Default(), store + "/data", &version).ok());
  FUZZ_CHECK(version == kFormatVersion);
  std::unique_ptr<DB> db;
  Status s = DB::Open(store, options, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "open after repair: %s\n", s.ToString().c_str());
    std::abort();
  }
  ReadEverything(db.get());
  FUZZ_CHECK(db->Close().ok());
  ValidateReport after;
  FUZZ_CHECK(DB::Validate(store, &after).ok());
  if (!after.ok()) {
    for (const auto& p : after.corrupt) std::fprintf(stderr, "after repair: %s@%llu: %s\n",
                                                     p.file.c_str(),
                                                     static_cast<unsigned long long>(p.offset),
                                                     p.what.c_str());
    for (const auto& p : after.hint_problems) std::fprintf(stderr, "after repair: hint %s: %s\n",
                                                           p.file.c_str(), p.what.c_str());
    std::abort();
  }
  return 0;
}
