// engine_flags: the engine options as command-line flags.
//
// Contract: every name of bitgask::OptionNames() is a flag with dashes for
// underscores ("sync_on_put" -> "--sync-on-put"), and its value is parsed by
// SetOptionFromString, so names and syntax match `mount.bitgask -o` exactly.
// Durations given to CLI commands (put --ttl, expire) use the same parser.
// Pure helpers: no CLI11, no I/O, no store access.
#ifndef BITGASK_SRC_CLI_ENGINE_FLAGS_H_
#define BITGASK_SRC_CLI_ENGINE_FLAGS_H_

#include <chrono>
#include <string>
#include <string_view>

#include "bitgask/options.h"

namespace bitgask {
namespace cli {

// "sync_on_put" -> "sync-on-put" (without the leading dashes).
std::string FlagNameForOption(std::string_view option);
// "sync-on-put" -> "sync_on_put".
std::string OptionForFlagName(std::string_view flag);

// Applies "--<flag>=<value>" to *o. On error leaves *o unchanged and sets
// *error to a one-line message naming the flag (not the engine's name).
bool ApplyEngineFlag(Options* o, std::string_view flag, std::string_view value, std::string* error);

// A duration in the options' syntax ("30", "30s", "500ms", "10m", "2h"; a
// bare number is seconds) into *out. False (and *error) on bad text.
bool ParseDuration(std::string_view text, std::chrono::nanoseconds* out, std::string* error);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_ENGINE_FLAGS_H_
