// Window math against explicit times (the throttler's FakeClock-driven tests
// cover the same through the facade).
#include "server/throttle/window.h"

#include <gtest/gtest.h>

#include <random>

#include "server/throttle/error_window.h"
#include "server/throttle/restriction.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

SpendTiming At(TimePoint resp, Duration latency = milliseconds(50)) {
  return SpendTiming{resp - latency, resp};
}

TEST(FloatingWindowTest, SpentUnitsComeBackOnePeriodAfterTheAnswer) {
  FloatingWindow w(10, seconds(60), 0);
  EXPECT_EQ(w.Available(kT0), 10);
  w.Charge(4, At(kT0));
  EXPECT_EQ(w.Available(kT0), 6);
  EXPECT_EQ(w.Available(kT0 + seconds(59)), 6);
  EXPECT_EQ(w.Available(kT0 + seconds(60)), 10);
  EXPECT_EQ(w.Used(kT0 + seconds(60)), 0);
}

TEST(FloatingWindowTest, MarginIsNeverGranted) {
  FloatingWindow w(100, seconds(60), 2);
  EXPECT_EQ(w.Available(kT0), 98);
  EXPECT_EQ(w.NextAvailable(98, kT0), kT0);
  EXPECT_FALSE(w.NextAvailable(99, kT0));
}

TEST(FloatingWindowTest, InFlightCountsUntilSettledAtRealCost) {
  FloatingWindow w(10, seconds(60), 0);
  w.Reserve(5);
  EXPECT_EQ(w.Available(kT0), 5);
  // Only settlement can free in-flight units: no time makes 6 available.
  EXPECT_FALSE(w.NextAvailable(6, kT0));
  w.Settle(5, 2, At(kT0 + seconds(1)));  // reserved the worst, cost a 2xx
  EXPECT_EQ(w.Available(kT0 + seconds(1)), 8);
  EXPECT_EQ(w.NextAvailable(10, kT0 + seconds(1)), kT0 + seconds(61));
  w.Reserve(3);
  w.Release(3);  // returned unspent
  EXPECT_EQ(w.Available(kT0 + seconds(2)), 8);
}

TEST(FloatingWindowTest, NextAvailableWalksReturnsInOrder) {
  FloatingWindow w(10, seconds(60), 0);
  w.Charge(3, At(kT0));
  w.Charge(4, At(kT0 + seconds(10)));
  w.Charge(3, At(kT0 + seconds(20)));
  const TimePoint now = kT0 + seconds(20);
  EXPECT_EQ(w.Available(now), 0);
  EXPECT_EQ(w.NextAvailable(1, now), kT0 + seconds(60));
  EXPECT_EQ(w.NextAvailable(3, now), kT0 + seconds(60));
  EXPECT_EQ(w.NextAvailable(4, now), kT0 + seconds(70));
  EXPECT_EQ(w.NextAvailable(7, now), kT0 + seconds(70));
  EXPECT_EQ(w.NextAvailable(10, now), kT0 + seconds(80));
  EXPECT_FALSE(w.NextAvailable(11, now));
}

TEST(FloatingWindowTest, BucketsCoalesceButNeverReturnEarly) {
  FloatingWindow w(100000, seconds(60), 0);  // granularity 100 ms
  ASSERT_EQ(w.granularity(), milliseconds(100));
  for (int i = 0; i < 1000; ++i) w.Charge(1, At(kT0 + milliseconds(i)));
  EXPECT_LE(w.ledger().size(), 11u);
  // No unit comes back earlier than its own answer + period...
  for (int i = 0; i < 1000; i += 37) {
    int64_t still_used = w.Used(kT0 + milliseconds(i) + seconds(60) - milliseconds(1));
    EXPECT_GE(still_used, 1000 - i) << i;
  }
  // ...and all are back one bucket (100 ms) later at most.
  EXPECT_EQ(w.Used(kT0 + milliseconds(999) + seconds(60)), 0);
}

TEST(FloatingWindowTest, LateReportIsInsertedInOrder) {
  FloatingWindow w(100, seconds(10), 0);
  w.Charge(1, At(kT0 + seconds(5)));
  w.Charge(2, At(kT0 + seconds(1)));  // reported late
  EXPECT_EQ(w.Used(kT0 + seconds(11)), 1);
  EXPECT_EQ(w.Used(kT0 + seconds(15)), 0);
}

TEST(FloatingWindowTest, UpstreamCountExplainedByLedgerAddsNothing) {
  FloatingWindow w(150, seconds(900), 0);
  for (int i = 0; i < 10; ++i) w.Charge(2, At(kT0 + seconds(i)));
  // The upstream counts our 20 units; the reporting call is the last one.
  EXPECT_EQ(w.ApplyUpstreamUsed(20, At(kT0 + seconds(9)), kT0 + seconds(9)), 0);
  EXPECT_EQ(w.Available(kT0 + seconds(9)), 130);
  // In-flight reservations may explain part of the count too.
  w.Reserve(5);
  EXPECT_EQ(w.ApplyUpstreamUsed(24, At(kT0 + seconds(10)), kT0 + seconds(10)), 0);
}

TEST(FloatingWindowTest, ForeignUsageBecomesAPhantomForOnePeriod) {
  FloatingWindow w(150, seconds(900), 0);
  w.Charge(2, At(kT0));
  // Someone else spent 100 units we never saw.
  EXPECT_EQ(w.ApplyUpstreamUsed(102, At(kT0), kT0), 100);
  EXPECT_EQ(w.Available(kT0), 48);
  // The same count reported again (another response) does not add up.
  EXPECT_EQ(w.ApplyUpstreamUsed(102, At(kT0), kT0 + seconds(1)), 100);
  EXPECT_EQ(w.Available(kT0 + seconds(1)), 48);
  // Needing 49 means waiting for our own 2 units and the phantom's end.
  EXPECT_EQ(w.NextAvailable(49, kT0 + seconds(1)), kT0 + seconds(900));
  EXPECT_EQ(w.Available(kT0 + seconds(900)), 150);
}

TEST(FloatingWindowTest, PhantomsAreAStaircaseOfMaxima) {
  FloatingWindow w(1000, seconds(100), 0);
  w.ApplyUpstreamUsed(50, At(kT0), kT0);                              // 50 until +100
  w.ApplyUpstreamUsed(20, At(kT0 + seconds(10)), kT0 + seconds(10));  // 20 until +110
  w.ApplyUpstreamUsed(10, At(kT0 + seconds(5)), kT0 + seconds(10));   // dominated
  EXPECT_EQ(w.phantom().size(), 2u);
  EXPECT_EQ(w.Used(kT0 + seconds(50)), 50);
  EXPECT_EQ(w.Used(kT0 + seconds(100)), 20);
  EXPECT_EQ(w.Used(kT0 + seconds(110)), 0);
  w.ApplyUpstreamUsed(60, At(kT0 + seconds(20)), kT0 + seconds(20));  // dominates both
  EXPECT_EQ(w.phantom().size(), 1u);
  EXPECT_EQ(w.Used(kT0 + seconds(119)), 60);
}

TEST(FloatingWindowTest, CallsSentAfterTheReportedCallDoNotExplainItsCount) {
  FloatingWindow w(100, seconds(60), 0);
  const SpendTiming x{kT0, kT0 + milliseconds(100)};
  // A call sent after X was answered: the upstream had not seen it.
  w.Charge(5, SpendTiming{kT0 + milliseconds(200), kT0 + milliseconds(300)});
  w.Charge(1, x);
  // Upstream counted X plus 5 foreign units.
  EXPECT_EQ(w.ApplyUpstreamUsed(6, x, kT0 + milliseconds(400)), 5);
}

TEST(FloatingWindowTest, UnitsReturnedWhileTheReportTravelledStillExplainItsCount) {
  // A burst of 50 answered at T0 comes back at T0 + 10 s. Call X went out
  // just before that and its report arrives just after: the upstream still
  // counted the burst when X reached it. Those are our units, not foreign.
  FloatingWindow w(100, seconds(10), 0);
  w.Charge(50, At(kT0));
  const SpendTiming x{kT0 + milliseconds(9950), kT0 + milliseconds(9990)};
  w.Charge(1, x);
  EXPECT_EQ(w.ApplyUpstreamUsed(51, x, kT0 + milliseconds(10050)), 0);
  EXPECT_EQ(w.Available(kT0 + milliseconds(10050)), 99);
}

TEST(FloatingWindowTest, UnitsReturnedBeforeTheCallWasSentExplainNothing) {
  // The same count, but X was sent after our burst came back: whatever the
  // upstream still counts is someone else's.
  FloatingWindow w(100, seconds(10), 0);
  w.Charge(50, At(kT0));
  const SpendTiming x{kT0 + milliseconds(10500), kT0 + milliseconds(10540)};
  w.Charge(1, x);
  EXPECT_EQ(w.ApplyUpstreamUsed(51, x, kT0 + milliseconds(10600)), 50);
  EXPECT_EQ(w.Available(kT0 + milliseconds(10600)), 49);
}

TEST(FloatingWindowTest, ReturnedBucketsAreForgottenAfterTheReportGrace) {
  FloatingWindow w(1000, seconds(1), 0);
  for (int i = 0; i < 100; ++i) w.Charge(1, At(kT0 + seconds(i)));
  // Long after, a report can only be explained by what is live.
  const TimePoint later = kT0 + seconds(100) + FloatingWindow::kReportGrace + seconds(2);
  EXPECT_EQ(w.Used(later), 0);
  const SpendTiming x{later - seconds(40), later - seconds(39)};
  EXPECT_EQ(w.ApplyUpstreamUsed(3, x, later), 3);
}

TEST(FloatingWindowTest, SetLimitsKeepsTheLedger) {
  FloatingWindow w(10, seconds(60), 0);
  w.Charge(6, At(kT0));
  w.SetLimits(8, seconds(120), 0);
  EXPECT_EQ(w.Available(kT0 + seconds(61)), 2);
  EXPECT_EQ(w.Available(kT0 + seconds(120)), 8);
}

TEST(ErrorWindowTest, ReservesRefundsAndCountsErrors) {
  ErrorWindow e(100, seconds(60), 1);
  EXPECT_TRUE(e.probing());
  EXPECT_EQ(e.Available(kT0), 99);
  e.Reserve(3);
  EXPECT_EQ(e.Available(kT0), 96);
  e.Settle(1, /*error=*/false, At(kT0), kT0);  // 2xx: refunded
  EXPECT_EQ(e.Available(kT0), 97);
  e.Settle(1, /*error=*/true, At(kT0), kT0);
  EXPECT_EQ(e.remain(), 99);
  EXPECT_EQ(e.Available(kT0), 97);  // 99 - margin 1 - 1 in flight
  ASSERT_TRUE(e.window_end());
  // Without a header the window is assumed to end one window after the error.
  EXPECT_GE(*e.window_end(), kT0 + seconds(60));
}

TEST(ErrorWindowTest, HeaderIsTheAuthorityTowardConservative) {
  ErrorWindow e(100, seconds(60), 0);
  e.ApplyHeader(100, 60, At(kT0), false, kT0);
  EXPECT_FALSE(e.probing());
  EXPECT_EQ(e.limit(), 100);
  // Same window, the upstream saw errors we did not: remain drops.
  e.ApplyHeader(40, 50, At(kT0 + seconds(10)), false, kT0 + seconds(10));
  EXPECT_EQ(e.remain(), 40);
  // Same window, a stale higher count never raises it.
  e.ApplyHeader(90, 49, At(kT0 + seconds(11)), false, kT0 + seconds(11));
  EXPECT_EQ(e.remain(), 40);
  // An error of ours that may have reached the upstream after the reporting
  // call is subtracted from the header's count.
  e.RecordError(SpendTiming{kT0 + seconds(12), kT0 + seconds(13)}, kT0 + seconds(13));
  EXPECT_EQ(e.remain(), 39);
  e.ApplyHeader(40, 47, SpendTiming{kT0 + seconds(12), kT0 + seconds(12) + milliseconds(500)},
                false, kT0 + seconds(13));
  EXPECT_EQ(e.remain(), 39);
  // A newer window replaces the state.
  e.ApplyHeader(100, 60, At(kT0 + seconds(70)), false, kT0 + seconds(70));
  EXPECT_EQ(e.remain(), 100);
}

TEST(ErrorWindowTest, RolloverProbesUntilConfirmed) {
  ErrorWindow e(100, seconds(60), 0);
  e.ApplyHeader(100, 60, At(kT0), false, kT0);
  for (int i = 0; i < 90; ++i) e.RecordError(At(kT0 + seconds(1)), kT0 + seconds(1));
  EXPECT_EQ(e.Available(kT0 + seconds(2)), 10);
  EXPECT_EQ(e.NextAvailable(50, kT0 + seconds(2)), kT0 + seconds(61));
  EXPECT_EQ(e.Available(kT0 + seconds(61)), 100);
  EXPECT_TRUE(e.probing());
}

TEST(ErrorWindowTest, LateHeaderOfAnEndedWindowIsIgnored) {
  ErrorWindow e(100, seconds(60), 0);
  e.ApplyHeader(100, 60, At(kT0 + seconds(100)), false, kT0 + seconds(100));
  // Answered at +10 with 5 s left in that window, reported at +100.
  e.ApplyHeader(3, 5, At(kT0 + seconds(10)), false, kT0 + seconds(100));
  EXPECT_EQ(e.remain(), 100);
}

TEST(ErrorWindowTest, ExhaustBlocksUntilReset) {
  ErrorWindow e(100, seconds(60), 0);
  TimePoint end = e.Exhaust(30, kT0);
  EXPECT_EQ(end, kT0 + seconds(31));
  EXPECT_EQ(e.Available(kT0 + seconds(30)), 0);
  EXPECT_EQ(e.NextAvailable(1, kT0), end);
}

TEST(RestrictionTest, BackoffGrowsPerEpisodeWithUpwardJitter) {
  BackoffOptions o;
  o.base = seconds(2);
  o.max = seconds(60);
  o.jitter = 0.5;
  std::mt19937_64 rng(7);
  Restriction r;
  bool fresh = false;
  TimePoint end = r.Impose(kT0, kT0, "429", o, rng, &fresh);
  EXPECT_TRUE(fresh);
  EXPECT_GE(end, kT0 + seconds(2));
  EXPECT_LT(end, kT0 + seconds(3));
  // While active, another 429 extends without escalating.
  TimePoint again = r.Impose(kT0 + seconds(1), kT0, "429", o, rng, &fresh);
  EXPECT_FALSE(fresh);
  EXPECT_LT(again, kT0 + seconds(1) + seconds(3));
  EXPECT_EQ(r.level(), 1);
  // A new episode escalates; Retry-After wins when longer.
  TimePoint third = r.Impose(kT0 + seconds(10), kT0 + seconds(10), "429", o, rng, &fresh);
  EXPECT_TRUE(fresh);
  EXPECT_GE(third, kT0 + seconds(14));
  TimePoint fourth = r.Impose(kT0 + seconds(20), kT0 + seconds(500), "429", o, rng, &fresh);
  EXPECT_EQ(fourth, kT0 + seconds(500));
  r.OnSuccess();
  EXPECT_EQ(r.level(), 0);
  EXPECT_EQ(Restriction::NominalBackoff(10, o), seconds(60));
}

}  // namespace
}  // namespace sluice::throttle
