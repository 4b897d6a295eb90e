#include "meta_file.h"

#include <cctype>
#include <memory>

namespace bitgask {
namespace internal {

std::string MetaFileName(const std::string& data_dir) { return data_dir + "/bitgask.meta"; }

Status WriteMetaFile(Env* env, const std::string& data_dir, int format_version) {
  const std::string path = MetaFileName(data_dir);
  const std::string text = "{\"format\": \"bitgask\", \"format_version\": " +
                           std::to_string(format_version) +
                           ", \"created_unix_ns\": " + std::to_string(env->NowUnixNanos()) + "}\n";
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(path + ".tmp", &f);
  if (s.ok()) s = f->Append(text);
  if (s.ok()) s = f->Sync();
  if (f) {
    Status c = f->Close();
    if (s.ok()) s = c;
  }
  if (s.ok()) s = env->RenameFile(path + ".tmp", path);
  if (s.ok()) s = env->SyncDir(data_dir);
  return s;
}

Status ReadMetaFile(Env* env, const std::string& data_dir, int* format_version) {
  const std::string path = MetaFileName(data_dir);
  std::unique_ptr<RandomAccessFile> f;
  Status s = env->NewRandomAccessFile(path, &f);
  if (!s.ok()) return s;
  char buf[4096];
  std::string_view text;
  s = f->Read(0, sizeof(buf), buf, &text);
  if (!s.ok()) return s;
  const std::string_view kFormat = "\"format\": \"bitgask\"";
  const std::string_view kVersion = "\"format_version\":";
  size_t at = text.find(kVersion);
  if (text.find(kFormat) == std::string_view::npos || at == std::string_view::npos) {
    return Status::Corruption(path + " is not a bitgask meta file");
  }
  at += kVersion.size();
  while (at < text.size() && text[at] == ' ') at++;
  int v = 0;
  size_t digits = 0;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) && digits < 9) {
    v = v * 10 + (text[at++] - '0');
    digits++;
  }
  if (digits == 0) return Status::Corruption(path + ": format_version is not a number");
  *format_version = v;
  return Status::OK();
}

}  // namespace internal
}  // namespace bitgask
