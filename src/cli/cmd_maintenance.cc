// The maintenance commands: merge, gc, backup, delete-all, validate, repair.
// The long ones show progress on a terminal (progress.h); their results go
// to stdout as plain lines.
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "cli_io.h"
#include "command_registry.h"
#include "progress.h"
#include "store_access.h"

namespace bitgask {
namespace cli {
namespace {

// "512 B", "3.2 KiB", "64.0 MiB", "1.5 GiB".
std::string Bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1024;
    unit++;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

int Merge(const CliContext& ctx, bool force) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  MergeResult r;
  Status s;
  {
    Progress progress("merge");
    MergeOptions mo;
    mo.force = force;
    mo.progress = [&progress](uint64_t done, uint64_t total) { progress.Update(done, total); };
    s = db->Merge(mo, &r);
  }
  if (!s.ok()) return CloseStore(db.get(), FailStatus("merge", s));
  std::string text;
  if (!r.ran) {
    uint64_t dead = 0, total = 0;
    double ratio = 0;
    db->Reclaimable(&dead, &total, &ratio);
    char buf[200];
    std::snprintf(buf, sizeof(buf),
                  "merge not needed: %.0f%% of %s reclaimable (triggers: ratio %.2f and %s); "
                  "--force merges anyway\n",
                  100 * ratio, Bytes(total).c_str(), ctx.options.merge_trigger_ratio,
                  Bytes(ctx.options.merge_min_total).c_str());
    text = buf;
  } else {
    text = "merged " + std::to_string(r.files_in) + " file(s), " + Bytes(r.bytes_in) + ", into " +
           std::to_string(r.files_out) + " file(s), " + Bytes(r.bytes_out) + ": " +
           std::to_string(r.records_copied) + " record(s) copied in " + Seconds(r.seconds) + "\n";
  }
  return CloseStore(db.get(), PrintOut(text));
}

int Gc(const CliContext& ctx) {
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  uint64_t removed = 0;
  Status s = db->RunGC(&removed);
  int rc = s.ok() ? PrintOut("removed " + std::to_string(removed) + " expired key(s)\n")
                  : FailStatus("gc", s);
  return CloseStore(db.get(), rc);
}

// "" when dest is absent or an empty directory; else why it cannot be used.
std::string CheckBackupDest(const std::string& dest) {
  DIR* d = opendir(dest.c_str());
  if (d == nullptr) {
    return errno == ENOENT ? "" : "backup destination " + dest + ": " + std::strerror(errno);
  }
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty ? "" : "backup destination " + dest + " is not empty";
}

int Backup(const CliContext& ctx, const std::string& dest) {
  std::string why = CheckBackupDest(dest);
  if (!why.empty()) return Fail(why);
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  Status s;
  {
    Progress progress("backup");
    s = db->Backup(dest);
  }
  int rc = s.ok() ? PrintOut("backup of " + ctx.dir + " written to " + dest + "\n")
                  : FailStatus("backup", s);
  return CloseStore(db.get(), rc);
}

// Asks on the terminal; true only for "y" or "yes".
bool Confirm(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int DeleteAll(const CliContext& ctx, bool yes) {
  if (!yes && isatty(0) != 1) {
    return Fail("delete-all removes every key of " + ctx.dir +
                "; standard input is not a terminal to ask, so pass --yes");
  }
  std::unique_ptr<DB> db;
  if (!OpenStore(ctx, Access::kMustExist, &db)) return 1;
  DBStats st;
  Status s = db->Stats(&st);
  if (!s.ok()) return CloseStore(db.get(), FailStatus("delete-all", s));
  if (!yes && !Confirm("Delete all " + std::to_string(st.keys) + " key(s) of " + ctx.dir + "?")) {
    return CloseStore(db.get(), Fail("delete-all: not confirmed; nothing deleted"));
  }
  s = db->DeleteAll();
  int rc = s.ok() ? PrintOut("deleted " + std::to_string(st.keys) + " key(s)\n")
                  : FailStatus("delete-all", s);
  return CloseStore(db.get(), rc);
}

std::string ProblemLine(const char* kind, const ValidateReport::Problem& p) {
  return std::string(kind) + ": " + p.file + " offset " + std::to_string(p.offset) + ": " + p.what +
         "\n";
}

int Validate(const CliContext& ctx) {
  std::unique_ptr<FileLock> lock;  // nobody may open the store while it is read
  if (!LockStore(ctx, &lock)) return 1;
  ValidateReport report;
  Status s;
  {
    Progress progress("validate");
    s = DB::Validate(ctx.dir, &report);
  }
  if (!s.ok()) return FailStatus("validate", s);
  std::string text = "store " + ctx.dir + ": " + std::to_string(report.data_files) +
                     " data file(s), " + std::to_string(report.hint_files) + " hint file(s), " +
                     std::to_string(report.records) + " record(s), " +
                     std::to_string(report.bytes) + " byte(s)\n";
  for (const auto& p : report.corrupt) text += ProblemLine("corrupt", p);
  for (const auto& p : report.hint_problems) text += ProblemLine("hint", p);
  for (const auto& n : report.notes) text += "note: " + n + "\n";
  if (report.ok()) {
    text += "ok\n";
  } else {
    text += "damaged: " + std::to_string(report.corrupt.size() + report.hint_problems.size()) +
            " problem(s); `bitgask repair` salvages every readable record\n";
  }
  int rc = PrintOut(text);
  return rc != 0 ? rc : report.ok() ? 0 : 1;
}

int Repair(const CliContext& ctx) {
  if (!StoreExists(ctx.dir)) return Fail("no store at " + ctx.dir);
  RepairReport r;
  Status s;
  {
    Progress progress("repair");
    s = DB::Repair(ctx.dir, ctx.options, &r);
  }
  if (s.IsLocked()) return Fail(OpenFailure(ctx.dir, s));
  if (!s.ok()) return FailStatus("repair", s);
  std::string text = "repaired " + ctx.dir + ": " + std::to_string(r.files_checked) +
                     " file(s) checked, " + std::to_string(r.files_rewritten) + " rewritten, " +
                     std::to_string(r.hints_rebuilt) + " hint(s) rebuilt, " +
                     std::to_string(r.records_kept) + " record(s) kept, " +
                     std::to_string(r.damaged_regions) + " damaged region(s), " +
                     std::to_string(r.bytes_dropped) + " byte(s) dropped\n";
  for (const auto& n : r.notes) text += "note: " + n + "\n";
  return PrintOut(text);
}

}  // namespace

void AddMaintenanceCommands(CLI::App* app, CliContext* ctx) {
  auto force = std::make_shared<bool>(false);
  auto yes = std::make_shared<bool>(false);
  auto dest = std::make_shared<std::string>();

  AddCommand(app, ctx, "merge", "Compact the data files (only when the triggers are met)",
             [ctx, force] { return Merge(*ctx, *force); })
      ->add_flag("--force", *force, "merge even when the triggers are not met");
  AddCommand(app, ctx, "gc", "Drop expired keys from the index", [ctx] { return Gc(*ctx); });
  AddCommand(app, ctx, "backup", "Write a consistent copy of the store into DEST",
             [ctx, dest] { return Backup(*ctx, *dest); })
      ->add_option("DEST", *dest, "an absent or empty directory")
      ->required();
  AddCommand(app, ctx, "delete-all", "Remove every key (asks first unless --yes)", [ctx, yes] {
    return DeleteAll(*ctx, *yes);
  })->add_flag("-y,--yes", *yes, "do not ask");
  AddCommand(app, ctx, "validate",
             "Check every record and hint file; exit 1 when anything is damaged",
             [ctx] { return Validate(*ctx); });
  AddCommand(app, ctx, "repair", "Salvage every readable record and rebuild hint files",
             [ctx] { return Repair(*ctx); });
}

}  // namespace cli
}  // namespace bitgask
