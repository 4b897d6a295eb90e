#include "fuzz_temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_target.h"

namespace {

void RemoveAtExit() {
  std::error_code ec;
  std::filesystem::remove_all(FuzzTempDir::Path(), ec);
}

}  // namespace

const std::string& FuzzTempDir::Path() {
  // Never destroyed: RemoveAtExit runs after static destructors would.
  static const std::string* const path = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* templ = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/bitgask-fuzz-XXXXXX");
    FUZZ_CHECK(mkdtemp(templ->data()) != nullptr);
    std::atexit(RemoveAtExit);
    return templ;
  }();
  return *path;
}

void FuzzTempDir::Reset() {
  for (const auto& entry : std::filesystem::directory_iterator(Path())) {
    std::filesystem::remove_all(entry.path());
  }
}

void FuzzTempDir::WriteFile(const std::string& name, std::string_view bytes) {
  std::ofstream out(Path() + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good());
}
