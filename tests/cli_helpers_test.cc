// The command line's pure helpers: engine options as flags, durations, keys
// shown in messages, and the JSON of `stats` and `reclaimable`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "engine_flags.h"
#include "json_out.h"

namespace bitgask {
namespace cli {
namespace {

TEST(EngineFlags, EveryOptionIsAFlagWithDashes) {
  ASSERT_FALSE(OptionNames().empty());
  for (const std::string& option : OptionNames()) {
    const std::string flag = FlagNameForOption(option);
    EXPECT_EQ(flag.find('_'), std::string::npos) << flag;
    EXPECT_EQ(OptionForFlagName(flag), option);
  }
  EXPECT_EQ(FlagNameForOption("sync_on_put"), "sync-on-put");
  EXPECT_EQ(FlagNameForOption("max_data_file_size"), "max-data-file-size");
}

TEST(EngineFlags, AppliesWithTheMountSyntax) {
  Options o;
  std::string error;
  ASSERT_TRUE(ApplyEngineFlag(&o, "sync-on-put", "false", &error)) << error;
  EXPECT_FALSE(o.sync_on_put);
  ASSERT_TRUE(ApplyEngineFlag(&o, "max-data-file-size", "64M", &error)) << error;
  EXPECT_EQ(o.max_data_file_size, 64ull << 20);
  ASSERT_TRUE(ApplyEngineFlag(&o, "lock-timeout", "5s", &error)) << error;
  EXPECT_EQ(o.lock_timeout, std::chrono::seconds(5));
  ASSERT_TRUE(ApplyEngineFlag(&o, "merge-trigger-ratio", "0.25", &error)) << error;
  EXPECT_DOUBLE_EQ(o.merge_trigger_ratio, 0.25);
}

TEST(EngineFlags, BadValueNamesTheFlagAndKeepsTheOldValue) {
  Options o;
  std::string error;
  EXPECT_FALSE(ApplyEngineFlag(&o, "sync-on-put", "maybe", &error));
  EXPECT_TRUE(o.sync_on_put);
  EXPECT_NE(error.find("--sync-on-put"), std::string::npos) << error;
  EXPECT_EQ(error.find("sync_on_put"), std::string::npos) << error;
  EXPECT_NE(error.find("maybe"), std::string::npos) << error;

  EXPECT_FALSE(ApplyEngineFlag(&o, "max-data-file-size", "1K", &error));  // below 4K
  EXPECT_EQ(o.max_data_file_size, Options().max_data_file_size);

  EXPECT_FALSE(ApplyEngineFlag(&o, "no-such-flag", "1", &error));
  EXPECT_EQ(error, "unknown flag --no-such-flag");
  // The engine's spelling is not a flag.
  EXPECT_FALSE(ApplyEngineFlag(&o, "sync_on_put", "true", &error));
}

TEST(Durations, BareNumberIsSecondsAndUnitsWork) {
  std::chrono::nanoseconds d{0};
  std::string error;
  ASSERT_TRUE(ParseDuration("30", &d, &error));
  EXPECT_EQ(d, std::chrono::seconds(30));
  ASSERT_TRUE(ParseDuration("500ms", &d, &error));
  EXPECT_EQ(d, std::chrono::milliseconds(500));
  ASSERT_TRUE(ParseDuration("10m", &d, &error));
  EXPECT_EQ(d, std::chrono::minutes(10));
  ASSERT_TRUE(ParseDuration("2h", &d, &error));
  EXPECT_EQ(d, std::chrono::hours(2));
  d = std::chrono::seconds(7);
  EXPECT_FALSE(ParseDuration("soon", &d, &error));
  EXPECT_FALSE(ParseDuration("-5", &d, &error));
  EXPECT_EQ(d, std::chrono::seconds(7));
  EXPECT_NE(error.find("-5"), std::string::npos) << error;
}

TEST(ShowBytes, EscapesWhatIsNotPrintable) {
  EXPECT_EQ(ShowBytes("user:1"), "user:1");
  EXPECT_EQ(ShowBytes(std::string("a\0b\n\xff", 5)), "a\\x00b\\x0a\\xff");
  EXPECT_EQ(ShowBytes("back\\slash"), "back\\\\slash");
  EXPECT_EQ(ShowBytes(std::string(300, 'k'), 10), std::string(10, 'k') + "...");
}

TEST(JsonOut, StatsHasEveryFieldAndParses) {
  DBStats st;
  st.keys = 3;
  st.total_bytes = 1000;
  st.dead_bytes = 250;
  st.data_files = 2;
  st.keydir_bytes = 4096;
  st.last_merge_unix_ns = 1700000000ll * 1000000000ll;
  st.last_merge_status = "ok: 2 files";
  auto j = nlohmann::json::parse(StatsJson("/srv/store", st));
  EXPECT_EQ(j["store"], "/srv/store");
  EXPECT_EQ(j["keys"], 3);
  EXPECT_EQ(j["total_bytes"], 1000);
  EXPECT_EQ(j["live_bytes"], 750);
  EXPECT_EQ(j["dead_bytes"], 250);
  EXPECT_DOUBLE_EQ(j["reclaimable_ratio"].get<double>(), 0.25);
  EXPECT_EQ(j["data_files"], 2);
  EXPECT_EQ(j["keydir_bytes"], 4096);
  EXPECT_EQ(j["last_merge"], 1700000000);
  EXPECT_EQ(j["last_merge_status"], "ok: 2 files");
}

TEST(JsonOut, NeverMergedIsNullAndEmptyStoreHasRatioZero) {
  auto j = nlohmann::json::parse(StatsJson("s", DBStats()));
  EXPECT_TRUE(j["last_merge"].is_null());
  EXPECT_DOUBLE_EQ(j["reclaimable_ratio"].get<double>(), 0.0);
}

TEST(JsonOut, EscapesQuotesControlsAndBadUtf8) {
  const std::string dir = std::string("a\"b\\c\nd\x01") + "\xff\xfe" + "\xc3\xa9";
  const std::string text = StatsJson(dir, DBStats());
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";
  EXPECT_NE(text.find("a\\\"b\\\\c\\nd\\u0001"), std::string::npos) << text;
  auto j = nlohmann::json::parse(text);  // throws on invalid JSON or UTF-8
  // Invalid bytes become U+FFFD; valid UTF-8 (é) is kept.
  EXPECT_EQ(j["store"], "a\"b\\c\nd\x01\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
}

TEST(JsonOut, Reclaimable) {
  auto j = nlohmann::json::parse(ReclaimableJson(30, 120, 0.25));
  EXPECT_EQ(j["dead_bytes"], 30);
  EXPECT_EQ(j["total_bytes"], 120);
  EXPECT_DOUBLE_EQ(j["reclaimable_ratio"].get<double>(), 0.25);
  EXPECT_EQ(j.size(), 3u);
}

}  // namespace
}  // namespace cli
}  // namespace bitgask
