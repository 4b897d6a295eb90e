// The commands that describe a store: stats and reclaimable (JSON), digest,
// and version (no store needed).
#include <memory>
#include <string>

#include "cli_io.h"
#include "command_registry.h"
#include "json_out.h"
#include "store_access.h"

#ifndef PACKAGE_VERSION
#error "PACKAGE_VERSION comes from configure"
#endif

namespace bitgask {
namespace cli {
namespace {

int PrintLine(const std::string& line) { return PrintOut(line + "\n"); }

int Stats(const CliContext& ctx) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  DBStats st;
  Status s = db->Stats(&st);
  int rc = s.ok() ? PrintLine(StatsJson(ctx.dir, st)) : FailStatus("stats", s);
  return CloseStore(db.get(), rc);
}

int Reclaimable(const CliContext& ctx) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  uint64_t dead = 0, total = 0;
  double ratio = 0;
  db->Reclaimable(&dead, &total, &ratio);
  return CloseStore(db.get(), PrintLine(ReclaimableJson(dead, total, ratio)));
}

int Digest(const CliContext& ctx) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  std::string hex;
  Status s = db->Digest(&hex);
  int rc = s.ok() ? PrintLine(hex) : FailStatus("digest", s);
  return CloseStore(db.get(), rc);
}

int Version() {
  return PrintLine(std::string("bitgask ") + PACKAGE_VERSION + " (format version " +
                   std::to_string(kFormatVersion) + ")");
}

}  // namespace

void AddInfoCommands(CLI::App* app, CliContext* ctx) {
  AddCommand(app, ctx, "stats", "Print the store's statistics as JSON",
             [ctx] { return Stats(*ctx); });
  AddCommand(app, ctx, "reclaimable", "Print dead and total bytes and their ratio as JSON",
             [ctx] { return Reclaimable(*ctx); });
  AddCommand(app, ctx, "digest",
             "Print a digest of the live keys and values (equal contents, equal digest)",
             [ctx] { return Digest(*ctx); });
  // No store, so no --dir or engine flags.
  CLI::App* version =
      app->add_subcommand("version", "Print the program's version and format version");
  ctx->commands.emplace_back(version, [] { return Version(); });
}

}  // namespace cli
}  // namespace bitgask
