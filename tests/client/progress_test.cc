#include "client/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sluice::cli {
namespace {

TEST(ProgressMeterTest, RateAndEtaFollowTheLastWindowOnly) {
  ProgressMeter meter(10);
  meter.Add(0, 0, 1000);
  EXPECT_EQ(meter.Rate(), 0);
  EXPECT_FALSE(meter.EtaSeconds().has_value());
  meter.Add(5, 500, 500);  // 100/s
  EXPECT_DOUBLE_EQ(meter.Rate(), 100);
  EXPECT_DOUBLE_EQ(*meter.EtaSeconds(), 5);
  EXPECT_EQ(meter.Percent(), 50);
  // A stall: after the window, the rate is what happened within it.
  meter.Add(20, 500, 500);
  meter.Add(25, 500, 500);
  EXPECT_EQ(meter.Rate(), 0);
  EXPECT_FALSE(meter.EtaSeconds().has_value()) << "no ETA while nothing moves";
  meter.Add(30, 600, 400);
  EXPECT_DOUBLE_EQ(meter.Rate(), 10);  // 100 over the window, from 20 to 30
  EXPECT_EQ(meter.Percent(), 60);
}

TEST(ProgressMeterTest, NothingToDoIsZeroPercent) {
  ProgressMeter meter;
  meter.Add(0, 0, 0);
  EXPECT_EQ(meter.Percent(), 0);
}

TEST(FormatDurationTest, SecondsMinutesHours) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(45.4), "45s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(3720), "1h02m");
  EXPECT_EQ(FormatDuration(-3), "0s");
}

v1::Budget* AddBudget(v1::ListBudgetsResponse* r, const std::string& name) {
  v1::Budget* b = r->add_families()->add_most_constrained();
  b->set_name(name);
  return b;
}

TEST(WaitReasonTest, NamesTheBudgetWhoseWaitEndsLast) {
  v1::ListBudgetsResponse r;
  r.mutable_now()->set_seconds(1'800'000'000);
  AddBudget(&r, "esi/group/alliance")->mutable_next_permitted()->set_seconds(1'799'999'990);
  AddBudget(&r, "esi/group/character")->mutable_next_permitted()->set_seconds(1'800'000'050);
  AddBudget(&r, "esi/group/corporation")->mutable_next_permitted()->set_seconds(1'800'000'010);
  const std::string reason = WaitReason(r, "");
  EXPECT_EQ(reason.rfind("budget esi/group/character full until ", 0), 0u) << reason;
  EXPECT_EQ(reason.size(), std::string("budget esi/group/character full until 00:00:00").size())
      << reason;
}

TEST(WaitReasonTest, ARestrictionIsNamedWithItsReason) {
  v1::ListBudgetsResponse r;
  r.mutable_now()->set_seconds(1'800'000'000);
  v1::Budget* b = AddBudget(&r, "poe/tier/ip");
  b->mutable_restricted_until()->set_seconds(1'800'000'060);
  b->set_restriction_reason("429 Retry-After 60");
  const std::string reason = WaitReason(r, "");
  EXPECT_NE(reason.find("budget poe/tier/ip restricted until "), std::string::npos) << reason;
  EXPECT_NE(reason.find("(429 Retry-After 60)"), std::string::npos) << reason;
}

TEST(WaitReasonTest, OnlyTheUpstreamAskedAbout) {
  v1::ListBudgetsResponse r;
  r.mutable_now()->set_seconds(1'800'000'000);
  AddBudget(&r, "poe/public-stash/ip")->mutable_next_permitted()->set_seconds(1'800'000'050);
  AddBudget(&r, "esi/group/character")->mutable_next_permitted()->set_seconds(1'800'000'010);
  EXPECT_EQ(WaitReason(r, "esi/").rfind("budget esi/group/character full until", 0), 0u);
  EXPECT_EQ(WaitReason(r, "poe/").rfind("budget poe/public-stash/ip full until", 0), 0u);
  EXPECT_EQ(WaitReason(r, "other/"), "");
}

TEST(WaitReasonTest, NothingWhenEveryBudgetCanTakeACall) {
  v1::ListBudgetsResponse r;
  r.mutable_now()->set_seconds(1'800'000'000);
  AddBudget(&r, "esi/group/character");
  AddBudget(&r, "esi/errors")->mutable_restricted_until()->set_seconds(1'799'999'000);
  EXPECT_EQ(WaitReason(r, ""), "");
}

std::string Read(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

TEST(ProgressLineTest, APipeGetsALinePerIntervalOrWhenTheWaitChanges) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressLine line(f, /*terminal=*/false, 10);
  line.Show(0, "a", "");
  line.Show(1, "b", "");                  // within 10 s, same wait: not printed
  line.Show(2, "c", "budget x full");     // the wait changed: printed
  line.Show(11, "d", "budget x full");    // within 10 s of c
  line.Show(12.5, "e", "budget x full");  // 10 s after c
  line.Finish();
  EXPECT_EQ(Read(f), "a\nc\ne\n");
  std::fclose(f);
}

TEST(ProgressLineTest, ATerminalGetsOneRedrawnLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressLine line(f, /*terminal=*/true, 10);
  line.Show(0, "a", "");
  line.Show(1, "b", "");
  line.Finish();
  EXPECT_EQ(Read(f), "\r\033[Ka\r\033[Kb\n");
  std::fclose(f);
}

}  // namespace
}  // namespace sluice::cli
