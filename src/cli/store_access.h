// store_access: opening the store for a command, with the messages people
// need when that fails.
//
// Contract: only `put` creates a store (Access::kCreate). Every other
// command opens an existing store and never creates one: when STORE/data
// does not exist it fails with "no store at STORE" before the engine touches
// anything (the engine's error_if_missing would still create STORE/LOCK and
// STORE/data in an existing empty directory). A store held by another process
// is named in the message with the likely holder and --lock-timeout.
// Every function that fails prints one line on stderr.
#ifndef BITGASK_SRC_CLI_STORE_ACCESS_H_
#define BITGASK_SRC_CLI_STORE_ACCESS_H_

#include <memory>
#include <string>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "command_registry.h"

namespace bitgask {
namespace cli {

enum class Access { kMustExist, kCreate };

// True when dir holds a store (dir/data exists).
bool StoreExists(const std::string& dir);

// The one-line explanation of an Open (or lock) failure of the store at dir.
std::string OpenFailure(const std::string& dir, const Status& s);

// Opens ctx.dir. False (message printed) on failure.
bool OpenStore(const CliContext& ctx, Access access, std::unique_ptr<DB>* db);

// Takes the store's lock (as Open does, waiting up to lock_timeout) for the
// commands that read a store's files without opening it (validate). False
// (message printed) when there is no store or it is in use.
bool LockStore(const CliContext& ctx, std::unique_ptr<FileLock>* lock);

// Closes db; returns rc, or 1 (message printed) when rc was 0 and Close
// failed.
int CloseStore(DB* db, int rc);

// The exit code and message for a failed engine call: 1 and the status.
int FailStatus(const std::string& what, const Status& s);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_STORE_ACCESS_H_
