// Metering at scale: 100,000 ESI callers cost O(1) work per request and a
// small /sim/stats section, and idle buckets and PoE keys are forgotten once
// their budget is whole again. A binary of its own: it leaves tens of MB
// resident, which would skew sim_test's RSS check of the full universe.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "sim/config.h"
#include "sim/esi_meter.h"
#include "sim/poe_limits.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

// 100,000 callers: O(1) per request, a small /sim/stats, and idle buckets
// forgotten once their tokens are back.
TEST(SimEsiMeterScaleTest, HundredThousandCallers) {
  FakeClock clock(FromUnixSeconds(1767225600));
  SimConfig c;
  c.esi_groups = {{"alliance", 600, 60}};
  EsiMeter meter(c, &clock);
  constexpr int kCallers = 100000;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kCallers; ++i) {
    std::shared_ptr<GroupLimiter> g = meter.Group("alliance", "char:" + std::to_string(i));
    GroupLimiter::Admission a = g->Admit();
    ASSERT_TRUE(a.admitted);
    g->Settle(a.ticket, i % 10 == 0 ? 404 : 200);
  }
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(fill_s, 10.0);
  nlohmann::json groups = meter.GroupsJson();
  EXPECT_EQ(groups["alliance"]["callers"], kCallers);
  ASSERT_EQ(groups["alliance"]["most_used"].size(), EsiMeter::kMostUsed);
  EXPECT_EQ(groups["alliance"]["most_used"][0]["used"], 5);  // a 404
  EXPECT_LT(groups.dump().size(), 1000u);
  EXPECT_EQ(meter.size(), static_cast<size_t>(kCallers));

  // A window later every bucket is full again; new callers sweep them away.
  clock.Advance(seconds(60));
  for (int i = 0; i < kCallers / 2; ++i) {
    meter.Group("alliance", "ip:10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  EXPECT_LT(meter.size(), static_cast<size_t>(kCallers));
  EXPECT_EQ(meter.GroupsJson()["alliance"]["callers"], 0);
}

TEST(SimPoeScaleTest, IdleKeysAreForgotten) {
  FakeClock clock(FromUnixSeconds(1767225600));
  PoeLimiter l("p", *ParsePoeRules("Account=5:10:60"), &clock);
  for (int i = 0; i < 5000; ++i) l.Decide({"10.0.0.1", "t" + std::to_string(i)});
  EXPECT_EQ(l.size(), 5000u);
  clock.Advance(seconds(10));
  for (int i = 0; i < 5000; ++i) l.Decide({"10.0.0.1", "u" + std::to_string(i)});
  EXPECT_LT(l.size(), 10000u);
  EXPECT_EQ(l.ToJson()["rules"]["Account"]["keys"], 5000);
  EXPECT_EQ(l.ToJson()["rules"]["Account"]["clients"].size(), PoeLimiter::kShownKeys);
}

}  // namespace
}  // namespace sluice::sim
