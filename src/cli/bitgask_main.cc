// bitgask: the command line of the store. `bitgask COMMAND --help` says how
// to use each command; docs/CLI.md is the manual.
//
// Exit codes: 0 success, 1 not found or failure (one line on stderr),
// 2 usage (a bad command line, including a bad engine flag value).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "command_registry.h"

int main(int argc, char** argv) {
  using bitgask::cli::CliContext;
  CLI::App app("bitgask: a Bitcask-style key-value store (docs/CLI.md)", "bitgask");
  app.require_subcommand(1);
  CliContext ctx;
  bitgask::cli::AddStoreFlags(&app, &ctx);
  bitgask::cli::AddKeyCommands(&app, &ctx);
  bitgask::cli::AddListCommands(&app, &ctx);
  bitgask::cli::AddInfoCommands(&app, &ctx);
  bitgask::cli::AddMaintenanceCommands(&app, &ctx);
  bitgask::cli::AddBenchCommand(&app, &ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string where = "bitgask";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::fprintf(stderr, "bitgask: %s (see `%s --help`)\n", e.what(), where.c_str());
    return 2;
  }
  for (auto& [sub, run] : ctx.commands) {
    if (sub->parsed()) return run();
  }
  return 2;  // unreachable: require_subcommand(1)
}
