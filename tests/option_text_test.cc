// SetOptionFromString: one name and one syntax for every option.
#include <gtest/gtest.h>

#include "bitgask/options.h"

namespace bitgask {
namespace {

TEST(OptionText, SetsEachKind) {
  Options o;
  ASSERT_TRUE(SetOptionFromString(&o, "sync_on_put", "false").ok());
  EXPECT_FALSE(o.sync_on_put);
  ASSERT_TRUE(SetOptionFromString(&o, "sync_on_put", "on").ok());
  EXPECT_TRUE(o.sync_on_put);
  ASSERT_TRUE(SetOptionFromString(&o, "max_data_file_size", "64M").ok());
  EXPECT_EQ(o.max_data_file_size, 64ull << 20);
  ASSERT_TRUE(SetOptionFromString(&o, "merge_interval", "60").ok());
  EXPECT_EQ(o.merge_interval, std::chrono::seconds(60));
  ASSERT_TRUE(SetOptionFromString(&o, "merge_interval", "10m").ok());
  EXPECT_EQ(o.merge_interval, std::chrono::minutes(10));
  ASSERT_TRUE(SetOptionFromString(&o, "sync_interval", "250ms").ok());
  EXPECT_EQ(o.sync_interval, std::chrono::milliseconds(250));
  ASSERT_TRUE(SetOptionFromString(&o, "default_ttl", "2h").ok());
  EXPECT_EQ(o.default_ttl, std::chrono::hours(2));
  ASSERT_TRUE(SetOptionFromString(&o, "merge_trigger_ratio", "0.25").ok());
  EXPECT_DOUBLE_EQ(o.merge_trigger_ratio, 0.25);
  ASSERT_TRUE(SetOptionFromString(&o, "max_key_size", "100").ok());
  EXPECT_EQ(o.max_key_size, 100u);
  EXPECT_TRUE(o.mmap_reads);
  ASSERT_TRUE(SetOptionFromString(&o, "mmap_reads", "off").ok());
  EXPECT_FALSE(o.mmap_reads);
}

TEST(OptionText, RejectsBadInputAndKeepsTheOldValue) {
  Options o;
  Status s = SetOptionFromString(&o, "no_such_option", "1");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message(), "unknown option no_such_option");
  for (auto [name, value] : std::vector<std::pair<const char*, const char*>>{
           {"sync_on_put", "maybe"},
           {"max_data_file_size", "1K"},       // below 4K
           {"max_data_file_size", "4G"},       // above 4G - 1
           {"max_data_file_size", "12Q"},
           {"max_key_size", "70000"},
           {"merge_interval", "5 minutes"},
           {"merge_interval", "-1"},
           {"merge_trigger_ratio", "1.5"},
           {"merge_trigger_ratio", "abc"},
           {"merge_min_total", "99999999999999999999999"},
       }) {
    Options before;
    Options x = before;
    s = SetOptionFromString(&x, name, value);
    EXPECT_TRUE(s.IsInvalidArgument()) << name << "=" << value;
    EXPECT_NE(s.message().find(std::string("bad value for ") + name), std::string::npos)
        << s.message();
    EXPECT_EQ(x.sync_on_put, before.sync_on_put);
    EXPECT_EQ(x.max_data_file_size, before.max_data_file_size);
    EXPECT_EQ(x.merge_interval, before.merge_interval);
    EXPECT_EQ(x.merge_trigger_ratio, before.merge_trigger_ratio);
  }
}

TEST(OptionText, EveryNameIsSettable) {
  EXPECT_EQ(OptionNames().size(), 19u);
  for (const std::string& name : OptionNames()) {
    Options o;
    // "0" is a valid text for every option except the bounded sizes.
    Status s = SetOptionFromString(&o, name, "0");
    if (!s.ok()) s = SetOptionFromString(&o, name, "4096");
    EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  }
}

}  // namespace
}  // namespace bitgask
