// The commands on one key: get, put, del, exists, ttl, expire, persist.
// Values pass through stdin/stdout byte for byte. "Not found" is exit 1 with
// a one-line message (exists and ttl also print their answer on stdout).
#include <memory>
#include <string>

#include "cli_io.h"
#include "command_registry.h"
#include "engine_flags.h"
#include "store_access.h"

namespace bitgask {
namespace cli {
namespace {

int NotFound(std::string_view key) { return Fail("not found: " + ShowBytes(key)); }

// Parses a duration option or positional with ParseDuration; a bad or
// non-positive one is a usage error.
std::function<void(const std::string&)> DurationInto(std::chrono::nanoseconds* out) {
  return [out](const std::string& text) {
    std::string error;
    if (!ParseDuration(text, out, &error)) throw CLI::ValidationError(error);
    if (out->count() <= 0) throw CLI::ValidationError("the duration must be more than 0");
  };
}

int Get(const CliContext& ctx, const std::string& key) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  std::string value;
  Status s = db->Get(key, &value);
  int rc = s.IsNotFound() ? NotFound(key)
           : s.ok()       ? PrintOut(value)
                          : FailStatus("get " + ShowBytes(key), s);
  return CloseStore(db.get(), rc);
}

int Put(const CliContext& ctx, const std::string& key, const std::string& value_arg,
        std::chrono::nanoseconds ttl) {
  std::string value = value_arg;
  if (value_arg == "-") {
    std::string error;
    if (!ReadAll(0, &value, &error)) return Fail(error);
  }
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kCreate, &db)) return 1;
  WriteOptions wo;
  wo.ttl = ttl;
  Status s = db->Put(wo, key, value);
  int rc = s.ok() ? 0 : FailStatus("put " + ShowBytes(key), s);
  return CloseStore(db.get(), rc);
}

int Del(const CliContext& ctx, const std::string& key) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  int rc = 0;
  // This process holds the store's lock, so nothing can come between the two.
  if (!db->Has(key)) {
    rc = NotFound(key);
  } else {
    Status s = db->Delete(key);
    if (!s.ok()) rc = FailStatus("del " + ShowBytes(key), s);
  }
  return CloseStore(db.get(), rc);
}

int Exists(const CliContext& ctx, const std::string& key) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  const bool has = db->Has(key);
  int rc = PrintOut(has ? "1\n" : "0\n");
  return CloseStore(db.get(), rc != 0 ? rc : has ? 0 : 1);
}

// Seconds KEY has left, rounded up so a live key never shows 0; -1 when it
// never expires, -2 when it is gone.
int64_t SecondsLeft(const RecordMeta& meta) {
  if (meta.expires_unix_ns == 0) return -1;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t left_ns = meta.expires_unix_ns - now;
  return left_ns > 0 ? (left_ns + 999999999) / 1000000000 : -2;
}

int Ttl(const CliContext& ctx, const std::string& key) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  RecordMeta meta;
  Status s = db->Meta(key, &meta);
  if (!s.ok() && !s.IsNotFound())
    return CloseStore(db.get(), FailStatus("ttl " + ShowBytes(key), s));
  const int64_t seconds = s.ok() ? SecondsLeft(meta) : -2;
  int rc = PrintOut(std::to_string(seconds) + "\n");
  if (rc == 0 && seconds == -2) rc = NotFound(key);
  return CloseStore(db.get(), rc);
}

int Expire(const CliContext& ctx, const std::string& key, std::chrono::nanoseconds ttl) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  Status s = db->Expire(key, ttl);
  int rc = s.IsNotFound() ? NotFound(key) : s.ok() ? 0 : FailStatus("expire " + ShowBytes(key), s);
  return CloseStore(db.get(), rc);
}

int Persist(const CliContext& ctx, const std::string& key) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  Status s = db->Persist(key);
  int rc = s.IsNotFound() ? NotFound(key) : s.ok() ? 0 : FailStatus("persist " + ShowBytes(key), s);
  return CloseStore(db.get(), rc);
}

}  // namespace

void AddKeyCommands(CLI::App* app, CliContext* ctx) {
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  auto ttl = std::make_shared<std::chrono::nanoseconds>(0);
  const char* kKeyHelp = "the key (any bytes but NUL)";

  AddCommand(app, ctx, "get", "Print KEY's value, byte for byte, on stdout",
             [ctx, key] { return Get(*ctx, *key); })
      ->add_option("KEY", *key, kKeyHelp)
      ->required();

  CLI::App* put = AddCommand(app, ctx, "put", "Set KEY to VALUE (- reads the value from stdin)",
                             [ctx, key, value, ttl] { return Put(*ctx, *key, *value, *ttl); });
  put->add_option("KEY", *key, kKeyHelp)->required();
  put->add_option("VALUE", *value, "the value, or - to read it from standard input")->required();
  put->add_option_function<std::string>("--ttl", DurationInto(ttl.get()),
                                        "expire after this long (30s, 10m, 2h; bare = seconds)")
      ->type_name("DURATION");

  AddCommand(app, ctx, "del", "Delete KEY (exit 1 when it does not exist)",
             [ctx, key] { return Del(*ctx, *key); })
      ->add_option("KEY", *key, kKeyHelp)
      ->required();

  AddCommand(app, ctx, "exists", "Print 1 (exit 0) when KEY exists, else 0 (exit 1)",
             [ctx, key] { return Exists(*ctx, *key); })
      ->add_option("KEY", *key, kKeyHelp)
      ->required();

  AddCommand(app, ctx, "ttl",
             "Print KEY's seconds to live: -1 when it never expires, -2 (exit 1) when absent",
             [ctx, key] { return Ttl(*ctx, *key); })
      ->add_option("KEY", *key, kKeyHelp)
      ->required();

  CLI::App* expire = AddCommand(app, ctx, "expire", "Make KEY expire SECONDS from now",
                                [ctx, key, ttl] { return Expire(*ctx, *key, *ttl); });
  expire->add_option("KEY", *key, kKeyHelp)->required();
  expire
      ->add_option_function<std::string>("SECONDS", DurationInto(ttl.get()),
                                         "seconds, or a duration such as 10m or 2h")
      ->required();

  AddCommand(app, ctx, "persist", "Remove KEY's expiry", [ctx, key] { return Persist(*ctx, *key); })
      ->add_option("KEY", *key, kKeyHelp)
      ->required();
}

}  // namespace cli
}  // namespace bitgask
