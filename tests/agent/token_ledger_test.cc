// Rate-token bookkeeping: expiry, revocation, returns. FakeClock, no I/O.
#include "agent/throttle/token_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const Route kAlliance{"esi", "/alliances/{id}/"};
const Route kCharacter{"esi", "/characters/{id}/"};

class TokenLedgerTest : public ::testing::Test {
 protected:
  TokenLedgerTest() : clock_(FromUnixSeconds(1800000000)), ledger_(&clock_, milliseconds(250)) {}
  TimePoint In(Duration d) const { return clock_.Now() + d; }

  FakeClock clock_;
  TokenLedger ledger_;
};

TEST_F(TokenLedgerTest, SpendsGrantedTokensThenRunsDry) {
  EXPECT_EQ(ledger_.AddLease(kAlliance, 1, 3, In(seconds(10))), 3);
  EXPECT_EQ(ledger_.Available(kAlliance), 3);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_EQ(ledger_.stats().taken, 3);
  EXPECT_THAT(ledger_.TakeReturns(), IsEmpty()) << "fully spent leases owe nothing";
}

TEST_F(TokenLedgerTest, PoolsAreSeparatePerRoute) {
  ledger_.AddLease(kAlliance, 1, 1, In(seconds(10)));
  EXPECT_FALSE(ledger_.Take(kCharacter).has_value());
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
}

TEST_F(TokenLedgerTest, ExpiredLeaseIsNotSpentAndItsTokensAreReturned) {
  ledger_.AddLease(kAlliance, 1, 5, In(seconds(2)));
  ASSERT_EQ(ledger_.Take(kAlliance), 1);
  clock_.Advance(seconds(2));
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 4}));
  EXPECT_EQ(ledger_.stats().expired, 4);
}

TEST_F(TokenLedgerTest, SafetyMarginStopsSpendingJustBeforeExpiry) {
  ledger_.AddLease(kAlliance, 1, 2, In(seconds(1)));
  clock_.Advance(milliseconds(760));  // 240 ms left: inside the 250 ms margin
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 2}));
}

TEST_F(TokenLedgerTest, LeaseAlreadyExpiredOnArrivalIsReturnedAtOnce) {
  EXPECT_EQ(ledger_.AddLease(kAlliance, 9, 4, In(milliseconds(100))), 0);
  EXPECT_EQ(ledger_.Available(kAlliance), 0);
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{9, 4}));
}

TEST_F(TokenLedgerTest, SpendsTheLeaseThatExpiresFirst) {
  ledger_.AddLease(kAlliance, 1, 1, In(seconds(30)));
  ledger_.AddLease(kAlliance, 2, 1, In(seconds(5)));
  EXPECT_EQ(ledger_.Take(kAlliance), 2);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
}

TEST_F(TokenLedgerTest, RevocationDropsTokensAtOnceAndOwesThem) {
  ledger_.AddLease(kAlliance, 1, 5, In(seconds(10)));
  ledger_.AddLease(kCharacter, 2, 5, In(seconds(10)));
  ledger_.Take(kAlliance);
  std::set<Route> routes = ledger_.Revoke({1, 77});
  EXPECT_THAT(routes, UnorderedElementsAre(kAlliance));
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_EQ(ledger_.Take(kCharacter), 2) << "other leases stay spendable";
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 4}));
  EXPECT_EQ(ledger_.stats().revoked, 4);
}

TEST_F(TokenLedgerTest, RevocationThatOvertakesItsGrantVoidsTheGrant) {
  ledger_.Revoke({5});
  EXPECT_EQ(ledger_.AddLease(kAlliance, 5, 3, In(seconds(10))), 0);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{5, 3}));
}

TEST_F(TokenLedgerTest, ReleasedTokenGoesBackIntoALiveLease) {
  ledger_.AddLease(kAlliance, 1, 2, In(seconds(10)));
  auto id = ledger_.Take(kAlliance);
  ledger_.Release(kAlliance, *id);
  EXPECT_EQ(ledger_.Available(kAlliance), 2);
  EXPECT_EQ(ledger_.stats().taken, 0);
  EXPECT_EQ(ledger_.stats().released, 1);
}

TEST_F(TokenLedgerTest, ReleasedTokenOfAGoneLeaseIsOwed) {
  ledger_.AddLease(kAlliance, 1, 1, In(seconds(10)));
  auto id = ledger_.Take(kAlliance);  // uses the lease up: it is gone
  ledger_.Release(kAlliance, *id);
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 1}));
}

TEST_F(TokenLedgerTest, DropAllOwesEverythingUnspent) {
  ledger_.AddLease(kAlliance, 1, 3, In(seconds(10)));
  ledger_.AddLease(kCharacter, 2, 2, In(seconds(10)));
  ledger_.Take(kCharacter);
  EXPECT_EQ(ledger_.DropAll(), 4);
  EXPECT_EQ(ledger_.Available(kAlliance), 0);
  EXPECT_THAT(ledger_.TakeReturns(),
              UnorderedElementsAre(TokenReturnEntry{1, 3}, TokenReturnEntry{2, 1}));
  EXPECT_THAT(ledger_.TakeReturns(), IsEmpty()) << "returns are handed out once";
}

TEST_F(TokenLedgerTest, FailedReturnsCanBeRestoredAndAggregate) {
  ledger_.AddLease(kAlliance, 1, 3, In(seconds(1)));
  clock_.Advance(seconds(1));
  ledger_.DropExpired();
  auto returns = ledger_.TakeReturns();
  ASSERT_THAT(returns, ElementsAre(TokenReturnEntry{1, 3}));
  ledger_.RestoreReturns(returns);
  ledger_.RestoreReturns({{1, 1}});
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 4}));
}

TEST_F(TokenLedgerTest, ArmingLeaseHandsOutOnlyArmedTokens) {
  EXPECT_EQ(ledger_.AddLease(kAlliance, 1, 3, In(seconds(10)), /*arm_before_use=*/true), 3);
  EXPECT_EQ(ledger_.Available(kAlliance), 3);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value()) << "nothing armed yet";
  auto first = ledger_.BeginArming(kAlliance, 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->lease_id, 1);
  EXPECT_EQ(first->count, 1);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value()) << "being armed is not armed";
  // A second caller arms another token rather than the same one.
  auto second = ledger_.BeginArming(kAlliance, 5);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->count, 2);
  EXPECT_EQ(ledger_.Arming(kAlliance), 3);
  EXPECT_FALSE(ledger_.BeginArming(kAlliance, 1).has_value()) << "everything is being armed";

  ledger_.Armed(*first, 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  ledger_.Armed(*second, 3);
  EXPECT_EQ(ledger_.Arming(kAlliance), 0);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_THAT(ledger_.TakeReturns(), IsEmpty());
}

TEST_F(TokenLedgerTest, ArmAnswersInAnyOrderKeepTheLargestTotal) {
  ledger_.AddLease(kAlliance, 1, 2, In(seconds(10)), /*arm_before_use=*/true);
  auto a = ledger_.BeginArming(kAlliance, 1);
  auto b = ledger_.BeginArming(kAlliance, 1);
  ASSERT_TRUE(a.has_value() && b.has_value());
  ledger_.Armed(*b, 2);  // the coordinator saw a's arm first
  ledger_.Armed(*a, 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1);
}

TEST_F(TokenLedgerTest, FailedArmDropsTheLeaseAndOwesItsTokens) {
  ledger_.AddLease(kAlliance, 1, 4, In(seconds(10)), /*arm_before_use=*/true);
  ledger_.AddLease(kAlliance, 2, 4, In(seconds(20)), /*arm_before_use=*/true);
  auto order = ledger_.BeginArming(kAlliance, 1);
  ASSERT_EQ(order->lease_id, 1) << "the lease expiring first";
  ledger_.Armed(*order, 1);
  ASSERT_EQ(ledger_.Take(kAlliance), 1);  // one call made on lease 1
  order = ledger_.BeginArming(kAlliance, 1);
  ASSERT_EQ(order->lease_id, 1);
  ledger_.ArmFailed(*order);
  EXPECT_EQ(ledger_.Available(kAlliance), 4) << "only lease 2 is left";
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 3}));
  EXPECT_EQ(ledger_.stats().arm_failed, 3);
  ledger_.Armed(*order, 2);  // a late answer for a dropped lease changes nothing
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
}

TEST_F(TokenLedgerTest, ReleasedArmedTokenIsReadyAgain) {
  ledger_.AddLease(kAlliance, 1, 2, In(seconds(10)), /*arm_before_use=*/true);
  ledger_.Armed(*ledger_.BeginArming(kAlliance, 1), 1);
  ASSERT_EQ(ledger_.Take(kAlliance), 1);
  ledger_.Release(kAlliance, 1);
  EXPECT_EQ(ledger_.Take(kAlliance), 1) << "still armed";
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
}

TEST_F(TokenLedgerTest, ExpiredArmingLeaseOwesArmedAndUnarmedTokens) {
  ledger_.AddLease(kAlliance, 1, 4, In(seconds(2)), /*arm_before_use=*/true);
  ledger_.Armed(*ledger_.BeginArming(kAlliance, 2), 2);
  ASSERT_EQ(ledger_.Take(kAlliance), 1);
  clock_.Advance(seconds(2));
  EXPECT_FALSE(ledger_.Take(kAlliance).has_value());
  EXPECT_FALSE(ledger_.BeginArming(kAlliance, 1).has_value()) << "nothing to arm after expiry";
  EXPECT_THAT(ledger_.TakeReturns(), ElementsAre(TokenReturnEntry{1, 3}));
}

}  // namespace
}  // namespace sluice::agent
