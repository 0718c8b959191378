// The listing step of a region's refresh, without a database: which
// contracts a region lists, which pages are stored anew, which contracts are
// written and in what batches.
#include "server/workflows/contracts/contract_listing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>

#include "common/time_util.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

void AddPage(v1::ContractRegionResult& r, int page, std::initializer_list<int64_t> ids,
             const std::string& etag = "") {
  v1::ContractPageResult* p = r.add_pages();
  p->set_page(page);
  p->set_etag(etag.empty() ? "etag-" + std::to_string(page) : etag);
  for (int64_t id : ids) p->add_contract_ids(id);
}

void AddNotModified(v1::ContractRegionResult& r, int page) {
  v1::ContractPageResult* p = r.add_pages();
  p->set_page(page);
  p->set_not_modified(true);
}

void AddContract(v1::ContractRegionResult& r, int64_t id, const std::string& title = "") {
  v1::PublicContract* c = r.add_contracts();
  c->set_contract_id(id);
  c->set_type("item_exchange");
  c->set_title(title);
}

std::vector<int64_t> Ids(const std::vector<const v1::PublicContract*>& contracts) {
  std::vector<int64_t> out;
  for (const v1::PublicContract* c : contracts) out.push_back(c->contract_id());
  return out;
}

TEST(ContractListingTest, FreshPagesListTheirIdsAndAreStoredWithTheirEtags) {
  v1::ContractRegionResult r;
  r.set_pages_total(2);
  AddPage(r, 1, {30, 10}, "\"a\"");
  AddPage(r, 2, {20}, "\"b\"");
  AddContract(r, 30);
  AddContract(r, 10);
  AddContract(r, 20);

  auto listing = ReadRegionListing(7, r, {});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(listing->listed, ElementsAre(10, 20, 30));
  EXPECT_EQ(listing->not_modified, 0);
  ASSERT_EQ(listing->fresh_pages.size(), 2u);
  EXPECT_EQ(listing->fresh_pages[0].page, 1);
  EXPECT_EQ(listing->fresh_pages[0].etag, "\"a\"");
  EXPECT_THAT(listing->fresh_pages[0].contract_ids, ElementsAre(30, 10));  // as read
  EXPECT_EQ(listing->fresh_pages[1].page, 2);
  EXPECT_THAT(Ids(listing->contracts), ElementsAre(10, 20, 30));
}

TEST(ContractListingTest, UnchangedPagesStandForTheirStoredIds) {
  v1::ContractRegionResult r;
  r.set_pages_total(3);
  AddNotModified(r, 1);
  AddPage(r, 2, {25, 26});
  AddNotModified(r, 3);
  AddContract(r, 25);
  AddContract(r, 26);
  const PageIds stored = {{1, {11, 12}}, {2, {21, 22}}, {3, {31}}};

  auto listing = ReadRegionListing(7, r, stored);
  ASSERT_TRUE(listing.ok()) << listing.status();
  // Page 2 was read anew: its stored ids (21, 22) are no longer listed.
  EXPECT_THAT(listing->listed, ElementsAre(11, 12, 25, 26, 31));
  EXPECT_EQ(listing->not_modified, 2);
  ASSERT_EQ(listing->fresh_pages.size(), 1u);
  EXPECT_EQ(listing->fresh_pages[0].page, 2);
  EXPECT_THAT(Ids(listing->contracts), ElementsAre(25, 26));
}

TEST(ContractListingTest, EveryPagesExpiresIsKeptUnchangedPagesToo) {
  v1::ContractRegionResult r;
  r.set_pages_total(3);
  AddNotModified(r, 1);
  AddPage(r, 2, {25});
  AddNotModified(r, 3);
  AddContract(r, 25);
  *r.mutable_pages(0)->mutable_expires() = ToProto(FromUnixSeconds(1796516000));
  *r.mutable_pages(1)->mutable_expires() = ToProto(FromUnixSeconds(1796516300));
  // Page 3's answer had no Expires.
  auto listing = ReadRegionListing(7, r, {{1, {11}}, {2, {21}}, {3, {31}}});
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->page_expires.size(), 2u);
  EXPECT_EQ(listing->page_expires[0], std::make_pair(1, FromUnixSeconds(1796516000)));
  EXPECT_EQ(listing->page_expires[1], std::make_pair(2, FromUnixSeconds(1796516300)));
}

TEST(ContractListingTest, AllPagesUnchangedWritesNoContractsAndStoresNoPages) {
  v1::ContractRegionResult r;
  r.set_pages_total(2);
  AddNotModified(r, 1);
  AddNotModified(r, 2);

  auto listing = ReadRegionListing(7, r, {{1, {5}}, {2, {6, 5}}});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(listing->listed, ElementsAre(5, 6));
  EXPECT_EQ(listing->not_modified, 2);
  EXPECT_THAT(listing->fresh_pages, IsEmpty());
  EXPECT_THAT(listing->contracts, IsEmpty());
}

TEST(ContractListingTest, SkippedContractsStayListed) {
  // The agent could not parse contract 13, but page 1 lists it: it must not
  // be dropped as gone.
  v1::ContractRegionResult r;
  r.set_pages_total(1);
  AddPage(r, 1, {12, 13});
  AddContract(r, 12);
  v1::SkippedContract* s = r.add_skipped();
  s->set_contract_id(13);
  s->set_page(1);
  s->set_reason("bad price");

  auto listing = ReadRegionListing(7, r, {});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(listing->listed, ElementsAre(12, 13));
  EXPECT_THAT(Ids(listing->contracts), ElementsAre(12));
}

TEST(ContractListingTest, AContractReportedTwiceIsWrittenOnceAsLastReported) {
  // It moved from page 1 to page 2 while the pages were read.
  v1::ContractRegionResult r;
  r.set_pages_total(2);
  AddPage(r, 1, {40});
  AddPage(r, 2, {40, 41});
  AddContract(r, 40, "first");
  AddContract(r, 41);
  AddContract(r, 40, "second");

  auto listing = ReadRegionListing(7, r, {});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(listing->listed, ElementsAre(40, 41));
  ASSERT_THAT(Ids(listing->contracts), ElementsAre(40, 41));
  EXPECT_EQ(listing->contracts[0]->title(), "second");
}

TEST(ContractListingTest, AnIncompleteListingIsRefused) {
  v1::ContractRegionResult none;
  none.set_pages_total(0);
  auto empty = ReadRegionListing(7, none, {});
  EXPECT_TRUE(absl::IsInvalidArgument(empty.status())) << empty.status();

  v1::ContractRegionResult partial;
  partial.set_pages_total(3);
  AddPage(partial, 1, {1});
  AddPage(partial, 2, {2});
  EXPECT_TRUE(absl::IsInvalidArgument(CheckListingComplete(7, partial)));
  auto listing = ReadRegionListing(7, partial, {});
  ASSERT_TRUE(absl::IsInvalidArgument(listing.status())) << listing.status();
  EXPECT_THAT(std::string(listing.status().message()),
              HasSubstr("region 7 reports 2 page(s) of 3; a listing is applied only when every "
                        "page was read"));

  AddPage(partial, 3, {3});
  EXPECT_TRUE(CheckListingComplete(7, partial).ok());
}

TEST(ContractListingTest, AnUnchangedPageWithNothingStoredIsRefused) {
  v1::ContractRegionResult r;
  r.set_pages_total(2);
  AddPage(r, 1, {1});
  AddNotModified(r, 2);

  auto listing = ReadRegionListing(7, r, {{1, {1}}});
  ASSERT_TRUE(absl::IsInvalidArgument(listing.status())) << listing.status();
  EXPECT_THAT(std::string(listing.status().message()),
              HasSubstr("region 7 page 2 answered 304 but no listing is stored for it"));
}

TEST(ContractListingTest, BatchesAreConsecutiveAndAtMostTheBatchSize) {
  v1::ContractRegionResult r;
  for (int64_t id = 1; id <= 5; ++id) AddContract(r, id);
  std::vector<const v1::PublicContract*> all;
  for (const auto& c : r.contracts()) all.push_back(&c);

  auto batches = ContractBatches(all, 2);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_THAT(Ids(batches[0]), ElementsAre(1, 2));
  EXPECT_THAT(Ids(batches[1]), ElementsAre(3, 4));
  EXPECT_THAT(Ids(batches[2]), ElementsAre(5));

  EXPECT_EQ(ContractBatches(all, 500).size(), 1u);
  EXPECT_EQ(ContractBatches(all, 0).size(), 5u);  // at least one a batch
  EXPECT_THAT(ContractBatches({}, 2), IsEmpty());
}

TEST(ContractListingTest, StoredPageIdsParseAsTheDatabaseSpellsThem) {
  EXPECT_THAT(ParsePageIds("3,1,2"), ElementsAre(3, 1, 2));
  EXPECT_THAT(ParsePageIds(""), IsEmpty());
  EXPECT_THAT(ParsePageIds("7,,x,9"), ElementsAre(7, 9));
}

}  // namespace
}  // namespace sluice
