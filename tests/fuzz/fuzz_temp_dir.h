// FuzzTempDir: one scratch directory per fuzz process, under $TMPDIR (or
// /tmp), emptied by Reset() before each input and removed at exit.
#ifndef BITGASK_TESTS_FUZZ_FUZZ_TEMP_DIR_H_
#define BITGASK_TESTS_FUZZ_FUZZ_TEMP_DIR_H_

#include <string>
#include <string_view>

class FuzzTempDir {
 public:
  // The process's directory, created on first use.
  static const std::string& Path();
  // Removes everything inside the directory.
  static void Reset();
  // Writes bytes to Path() + "/" + name (parent directories must exist).
  static void WriteFile(const std::string& name, std::string_view bytes);
};

#endif  // BITGASK_TESTS_FUZZ_FUZZ_TEMP_DIR_H_
