// The ops snapshot as Prometheus families (server/ops/ops_metrics.h): budget
// family names split into labels, per-scope aggregates instead of one series
// per caller, and series kept at zero rather than dropped.
#include "server/ops/ops_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics/function_collectable.h"
#include "common/metrics/ops_listener.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

std::string Text(const SnapshotMetrics& m, const OpsSnapshot& s) {
  auto families = m.Families(s);
  return metrics::RenderMetrics({std::make_shared<metrics::FunctionCollectable>(
      [families] { return families; })});
}

TEST(BudgetFamilyLabelsTest, EveryFamilyShapeSplitsIntoLabels) {
  EXPECT_THAT(BudgetFamilyLabels("esi/group/char-detail"),
              ElementsAre(Pair("upstream", "esi"), Pair("kind", "group"),
                          Pair("group", "char-detail"), Pair("rule", ""), Pair("tier", ""),
                          Pair("route", "")));
  EXPECT_THAT(BudgetFamilyLabels("esi/errors"),
              ElementsAre(Pair("upstream", "esi"), Pair("kind", "errors"), Pair("group", ""),
                          Pair("rule", ""), Pair("tier", ""), Pair("route", "")));
  EXPECT_THAT(BudgetFamilyLabels("esi/route/characters/{}"),
              ElementsAre(Pair("upstream", "esi"), Pair("kind", "route"), Pair("group", ""),
                          Pair("rule", ""), Pair("tier", ""), Pair("route", "characters/{}")));
  EXPECT_THAT(BudgetFamilyLabels("esi/ungrouped//status"),
              ElementsAre(Pair("upstream", "esi"), Pair("kind", "ungrouped"), Pair("group", ""),
                          Pair("rule", ""), Pair("tier", ""), Pair("route", "/status")));
  EXPECT_THAT(BudgetFamilyLabels("poe/stash-request-limit/ip/1"),
              ElementsAre(Pair("upstream", "poe"), Pair("kind", "rule"),
                          Pair("group", "stash-request-limit"), Pair("rule", "ip"),
                          Pair("tier", "1"), Pair("route", "")));
  EXPECT_THAT(BudgetFamilyLabels("poe/route//public-stash-tabs"),
              ElementsAre(Pair("upstream", "poe"), Pair("kind", "route"), Pair("group", ""),
                          Pair("rule", ""), Pair("tier", ""), Pair("route", "/public-stash-tabs")));
}

throttle::FamilyInfo CharacterFamily(int64_t characters, int64_t min_remaining) {
  throttle::FamilyInfo f;
  f.name = "esi/group/char-detail";
  f.budgets = characters;
  f.counters.granted = 1234;
  if (characters > 0) {
    throttle::ScopeAggregate& a = f.by_scope["character"];
    a.budgets = characters;
    a.exhausted = 1;
    a.min_remaining = min_remaining;
    a.min_room = 0.25;
  }
  return f;
}

TEST(SnapshotMetricsTest, ManyCharactersAreOneSeriesPerScopeNotPerCharacter) {
  SnapshotMetrics m(nullptr);
  OpsSnapshot s;
  s.budget_families.push_back(CharacterFamily(100000, 7));
  const std::string text = Text(m, s);
  const std::string labels =
      "{upstream=\"esi\",kind=\"group\",group=\"char-detail\",rule=\"\",tier=\"\",route=\"\","
      "scope=\"character\"}";
  EXPECT_THAT(text, HasSubstr("sluice_budgets" + labels + " 100000\n"));
  EXPECT_THAT(text, HasSubstr("sluice_budgets_exhausted" + labels + " 1\n"));
  EXPECT_THAT(text, HasSubstr("sluice_budget_min_remaining" + labels + " 7\n"));
  EXPECT_THAT(text, HasSubstr("sluice_budget_min_headroom_ratio" + labels + " 0.25\n"));
  EXPECT_THAT(text, HasSubstr("sluice_budget_granted_total{upstream=\"esi\",kind=\"group\","
                              "group=\"char-detail\",rule=\"\",tier=\"\",route=\"\"} 1234\n"));
  EXPECT_THAT(text, Not(HasSubstr("char:")));
}

TEST(SnapshotMetricsTest, AScopeSeenOnceStaysAtZeroWhenItsBudgetsAreGone) {
  SnapshotMetrics m(nullptr);
  OpsSnapshot busy;
  busy.budget_families.push_back(CharacterFamily(3, 7));
  Text(m, busy);
  OpsSnapshot idle;  // every character's budget dropped once idle
  idle.budget_families.push_back(CharacterFamily(0, 0));
  const std::string text = Text(m, idle);
  EXPECT_THAT(text, HasSubstr("sluice_budgets{upstream=\"esi\",kind=\"group\",group=\"char-detail\","
                              "rule=\"\",tier=\"\",route=\"\",scope=\"character\"} 0\n"));
}

TEST(SnapshotMetricsTest, EveryKindAndEveryAlertRuleHasItsSeries) {
  SnapshotMetrics m(nullptr);
  OpsSnapshot s;
  s.queue.push_back(KindStats{"alliance"});  // drained: CollectOpsSnapshot adds it at zero
  const std::string text = Text(m, s);
  EXPECT_THAT(text, HasSubstr("sluice_queue_tasks{kind=\"alliance\",state=\"ready\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sluice_dead_tasks{kind=\"alliance\"} 0\n"));
  // Every rule of the ETL module (its one list), not firing.
  ASSERT_FALSE(etl::AlertRuleNames().empty());
  for (const std::string& rule : etl::AlertRuleNames()) {
    EXPECT_THAT(text, HasSubstr("sluice_alerts_firing{alert=\"" + rule + "\"} 0\n"));
  }
  etl::Alert drift;
  drift.rule = "checkpoint_drift";
  drift.stream = "poe_stash";
  s.panels.alerts_firing.push_back(drift);
  EXPECT_THAT(Text(m, s), HasSubstr("sluice_alerts_firing{alert=\"checkpoint_drift\"} 1\n"));
}

TEST(SnapshotMetricsTest, AStandbyShowsOnlyItsRole) {
  SnapshotMetrics m(nullptr);
  OpsSnapshot s;
  s.leading = false;
  s.queue.push_back(KindStats{"alliance"});
  const std::string text = Text(m, s);
  EXPECT_THAT(text, HasSubstr("sluice_leader 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("sluice_queue_tasks")));
}

}  // namespace
}  // namespace sluice
