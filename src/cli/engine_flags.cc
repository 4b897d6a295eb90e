#include "engine_flags.h"

#include <algorithm>

namespace bitgask {
namespace cli {

std::string FlagNameForOption(std::string_view option) {
  std::string flag(option);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string OptionForFlagName(std::string_view flag) {
  std::string option(flag);
  std::replace(option.begin(), option.end(), '-', '_');
  return option;
}

bool ApplyEngineFlag(Options* o, std::string_view flag, std::string_view value,
                     std::string* error) {
  const std::string option = OptionForFlagName(flag);
  const auto& names = OptionNames();
  if (flag.find('_') != std::string_view::npos ||
      std::find(names.begin(), names.end(), option) == names.end()) {
    *error = "unknown flag --" + std::string(flag);
    return false;
  }
  Status s = SetOptionFromString(o, option, value);
  if (!s.ok()) {
    // The engine names the option; speak of the flag the user typed.
    std::string msg = s.message();
    const size_t at = msg.find(option);
    if (at != std::string::npos) msg.replace(at, option.size(), "--" + std::string(flag));
    *error = msg;
    return false;
  }
  return true;
}

bool ParseDuration(std::string_view text, std::chrono::nanoseconds* out, std::string* error) {
  // default_ttl has the duration syntax; borrowing its parser keeps one syntax.
  Options scratch;
  Status s = SetOptionFromString(&scratch, "default_ttl", text);
  if (!s.ok()) {
    *error = "bad duration '" + std::string(text) +
             "' (a whole number with an optional unit ms, s, m or h; a bare number is seconds)";
    return false;
  }
  *out = scratch.default_ttl;
  return true;
}

}  // namespace cli
}  // namespace bitgask
