// The listing commands: keys, scan PREFIX. One key per line, in byte order;
// with -0/--null each key ends with a NUL byte instead (like find -print0),
// which is the only unambiguous form for keys holding newlines. In line mode
// such keys are still printed, and the command ends with a warning and exit 1
// so that a script reading lines learns its input was ambiguous.
#include <memory>
#include <string>

#include "cli_io.h"
#include "command_registry.h"
#include "store_access.h"

namespace bitgask {
namespace cli {
namespace {

// Writes keys one by one with their terminator; counts keys with a newline.
class KeyPrinter {
 public:
  explicit KeyPrinter(bool null) : terminator_(null ? '\0' : '\n') {}
  bool Print(std::string_view key) {
    if (terminator_ == '\n' && key.find('\n') != std::string_view::npos) ambiguous_++;
    return WriteOut(key) && WriteOut(std::string_view(&terminator_, 1));
  }
  // The exit code once every key is printed.
  int Finish() {
    std::string error;
    if (!FinishOut(&error)) return Fail(error);
    if (ambiguous_ > 0) {
      return Fail(std::to_string(ambiguous_) +
                  " key(s) contain a newline, so these lines are ambiguous; use -0");
    }
    return 0;
  }

 private:
  const char terminator_;
  uint64_t ambiguous_ = 0;
};

int Keys(const CliContext& ctx, bool null) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  KeyPrinter out(null);
  Status s = db->IterKeys([&](std::string_view key) { return out.Print(key); });
  int rc = s.ok() ? out.Finish() : FailStatus("keys", s);
  return CloseStore(db.get(), rc);
}

int Scan(const CliContext& ctx, const std::string& prefix, bool null) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  std::unique_ptr<Iterator> it;
  Status s = db->NewIterator(prefix, &it);
  if (!s.ok()) return CloseStore(db.get(), FailStatus("scan", s));
  KeyPrinter out(null);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!out.Print(it->key())) break;
  }
  it.reset();
  return CloseStore(db.get(), out.Finish());
}

}  // namespace

void AddListCommands(CLI::App* app, CliContext* ctx) {
  auto null = std::make_shared<bool>(false);
  auto prefix = std::make_shared<std::string>();
  const char* kNullHelp = "end each key with a NUL byte instead of a newline";

  AddCommand(app, ctx, "keys", "Print every key, one per line, in byte order",
             [ctx, null] { return Keys(*ctx, *null); })
      ->add_flag("-0,--null", *null, kNullHelp);

  CLI::App* scan = AddCommand(app, ctx, "scan", "Print the keys that start with PREFIX",
                              [ctx, prefix, null] { return Scan(*ctx, *prefix, *null); });
  scan->add_option("PREFIX", *prefix, "the prefix (\"\" for every key)")->required();
  scan->add_flag("-0,--null", *null, kNullHelp);
}

}  // namespace cli
}  // namespace bitgask
