// command_registry: what every `bitgask` subcommand shares, and how a
// subcommand is declared.
//
// Contract: AddCommand creates a subcommand with `--dir STORE` and one flag
// per engine option (engine_flags.h), both applied to the CliContext while
// the command line is parsed; a bad engine flag value is a usage error
// (CLI::ValidationError, exit 2). The run function is called by main only
// when its subcommand was given, after parsing succeeded; it returns the exit
// code (0 success, 1 not found or failure). Single-threaded: parsing and
// running happen on main's thread.
#ifndef BITGASK_SRC_CLI_COMMAND_REGISTRY_H_
#define BITGASK_SRC_CLI_COMMAND_REGISTRY_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bitgask/options.h"

namespace bitgask {
namespace cli {

constexpr char kDefaultStoreDir[] = "./bitgask-data";

struct CliContext {
  std::string dir = kDefaultStoreDir;
  Options options;  // DB::Open options, as the flags set them
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands;
};

// Adds --dir and the engine flags to app (a subcommand, or the main program
// so that they may also come before the subcommand).
void AddStoreFlags(CLI::App* app, CliContext* ctx);

CLI::App* AddCommand(CLI::App* app, CliContext* ctx, const std::string& name,
                     const std::string& description, std::function<int()> run);

// The groups of subcommands, one file each.
void AddKeyCommands(CLI::App* app, CliContext* ctx);          // cmd_keys.cc
void AddListCommands(CLI::App* app, CliContext* ctx);         // cmd_list.cc
void AddInfoCommands(CLI::App* app, CliContext* ctx);         // cmd_info.cc
void AddMaintenanceCommands(CLI::App* app, CliContext* ctx);  // cmd_maintenance.cc
void AddBenchCommand(CLI::App* app, CliContext* ctx);         // cmd_bench.cc

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_COMMAND_REGISTRY_H_
