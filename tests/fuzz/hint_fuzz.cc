// Fuzz target: the hint-file reader (engine/hint_file.h).
//
// Input: one flags byte, then the bytes of a hint file. Flag bit 0 reseals
// the trailer (count, CRC, magic) first, so the entry parser is reached with
// arbitrary entries. Checked properties: ReadHintFile either fails or calls
// its callback once per entry its trailer counts; and a file it accepts is
// exactly what HintWriter writes for the entries it returned (the format has
// one encoding per entry list).
#include <string>
#include <vector>

#include "bitgask/env.h"
#include "fuzz_input.h"
#include "fuzz_target.h"
#include "fuzz_temp_dir.h"
#include "hint_file.h"
#include "reseal.h"

using namespace bitgask;
using namespace bitgask::internal;

namespace {

std::string ReadAll(const std::string& path) {
  Env* env = Env::Default();
  uint64_t size = 0;
  FUZZ_CHECK(env->GetFileSize(path, &size).ok());
  std::unique_ptr<RandomAccessFile> file;
  FUZZ_CHECK(env->NewRandomAccessFile(path, &file).ok());
  std::string buf(size, '\0');
  std::string_view got;
  FUZZ_CHECK(file->Read(0, buf.size(), buf.data(), &got).ok() && got.size() == size);
  return std::string(got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t flags = in.TakeByte();
  std::string hint(in.Rest());
  if (flags & 1) ResealHintFile(&hint);

  FuzzTempDir::Reset();
  const std::string dir = FuzzTempDir::Path();
  FuzzTempDir::WriteFile("in.hint", hint);
  std::vector<LogOp> ops;
  Status s = ReadHintFile(Env::Default(), dir + "/in.hint", 7, [&](LogOp& op) {
    FUZZ_CHECK(op.entry.file_id == 7);
    FUZZ_CHECK(op.kind <= LogOp::kClear && op.key.size() <= 0xFFFF);
    ops.push_back(op);
  });
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption() || s.IsIOError());
    return 0;
  }

  HintWriter writer(Env::Default(), dir + "/out.hint");
  FUZZ_CHECK(writer.Open().ok());
  for (const LogOp& op : ops) FUZZ_CHECK(writer.Add(op).ok());
  FUZZ_CHECK(writer.Finish(dir).ok());
  FUZZ_CHECK(ReadAll(dir + "/out.hint") == hint);
  return 0;
}
