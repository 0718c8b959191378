#include "server/workflows/streams/exchange_stream.h"

#include <glog/logging.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "common/time_util.h"
#include "server/store/payload_codec.h"
#include "server/workflows/streams/checkpoint_store.h"
#include "server/workflows/streams/poe_streams.h"
#include "server/workflows/streams/stream_context.h"
#include "server/workflows/streams/stream_sql.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::streams {
namespace {

bool IsJsonObject(const std::string& text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string::npos && text[i] == '{' && nlohmann::json::accept(text);
}

}  // namespace

std::string ExchangeStreamExtension::kind() const { return kExchangeStreamKind; }

absl::Status ExchangeStreamExtension::FillContext(pqxx::dbtransaction& txn,
                                                  std::vector<LeasedTask*>& tasks, TimePoint now) {
  return FillStreamContexts(txn, tasks, now, ExchangeStreamName,
                            std::to_string(ExchangeStartHour(timing_, now)), token_.get());
}

absl::StatusOr<PayloadOutcome> ExchangeStreamExtension::Apply(pqxx::dbtransaction& txn,
                                                              const ExtensionTask& task,
                                                              const Completion& c, TimePoint now) {
  auto unpacked = UnpackPayload<v1::PoeExchangePage>(c.payload, "payload", kExchangeStreamKind);
  if (!unpacked.ok()) return unpacked.status();
  const v1::PoeExchangePage& page = *unpacked;
  auto realm = RealmName(task.entity_id);
  if (!realm) {
    return absl::InvalidArgumentError(absl::StrCat("entity_id: ", task.entity_id,
                                                   " is not a realm index (1 pc, 2 xbox, 3 sony)"));
  }
  const int64_t now_s = static_cast<int64_t>(ToUnixSeconds(now));
  if (page.next_hour() > now_s + kHourSeconds) {
    return absl::InvalidArgumentError(absl::StrCat("payload.next_hour: ", page.next_hour(),
                                                   " is more than an hour in the future"));
  }
  std::string rows = "[";
  for (int i = 0; i < page.markets_size(); ++i) {
    const v1::PoeExchangeMarket& m = page.markets(i);
    const std::string field = absl::StrCat("payload.markets[", i, "]");
    if (m.league().empty() || m.market_id().empty()) {
      return absl::InvalidArgumentError(field + ": league and market_id are required");
    }
    for (absl::Status s :
         {CheckText(field + ".league", m.league(), 1, kMaxPoeName),
          CheckText(field + ".market_id", m.market_id(), 1, kMaxPoeName),
          CheckStorableJson(field + ".volume_traded_json", m.volume_traded_json()),
          CheckStorableJson(field + ".lowest_stock_json", m.lowest_stock_json()),
          CheckStorableJson(field + ".highest_stock_json", m.highest_stock_json()),
          CheckStorableJson(field + ".lowest_ratio_json", m.lowest_ratio_json()),
          CheckStorableJson(field + ".highest_ratio_json", m.highest_ratio_json())}) {
      if (!s.ok()) return s;
    }
    if (!IsJsonObject(m.volume_traded_json())) {
      return absl::InvalidArgumentError(field + ".volume_traded_json: not a JSON object");
    }
    std::string optional_json[4];
    const std::string* given[4] = {&m.lowest_stock_json(), &m.highest_stock_json(),
                                   &m.lowest_ratio_json(), &m.highest_ratio_json()};
    for (int k = 0; k < 4; ++k) {
      if (given[k]->empty()) {
        optional_json[k] = "null";
      } else if (IsJsonObject(*given[k])) {
        optional_json[k] = *given[k];
      } else {
        return absl::InvalidArgumentError(field + ": a stock/ratio field is not a JSON object");
      }
    }
    if (i > 0) rows += ',';
    absl::StrAppend(&rows, "{\"league\":", nlohmann::json(m.league()).dump(),
                    ",\"market_id\":", nlohmann::json(m.market_id()).dump(),
                    ",\"volume_traded\":", m.volume_traded_json(),
                    ",\"lowest_stock\":", optional_json[0], ",\"highest_stock\":", optional_json[1],
                    ",\"lowest_ratio\":", optional_json[2], ",\"highest_ratio\":", optional_json[3],
                    "}");
  }
  rows += ']';

  const std::string stream = ExchangeStreamName(*realm);
  auto checkpoint = CheckpointStore::Lock(txn, stream);
  if (!checkpoint) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " has no checkpoint"));
  }
  int64_t current = 0;
  if (!absl::SimpleAtoi(checkpoint->cursor, &current) || current != page.start_hour()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream ", stream, ": page starts at hour ", page.start_hour(),
                     " but the current cursor is '", checkpoint->cursor,
                     "' (stale or duplicate completion; nothing written)"));
  }
  const std::string from = checkpoint->cursor;
  const std::string to = std::to_string(page.next_hour());

  PayloadOutcome out;
  if (page.next_hour() < page.start_hour()) {
    const std::string reason =
        absl::StrCat("rewind: next hour ", page.next_hour(), " is before ", page.start_hour());
    LOG(WARNING) << "stream " << stream << " from agent " << c.agent_id << ": " << reason
                 << "; refused";
    CheckpointStore::RecordRejected(txn, stream, from, to, c.agent_id, reason, now);
    out.requeue_after = timing_.rejected_retry;
    out.rejection = absl::FailedPreconditionError("stream " + stream + ": " + reason +
                                                  " (refused and recorded; cursor unchanged)");
    return out;
  }
  if (page.next_hour() == page.start_hour()) {
    // Not published yet: come back when the hour should have ended.
    CheckpointStore::RecordPoll(txn, stream, /*at_head=*/true, 0, now);
    out.requeue_after = std::max<Duration>(
        timing_.exchange_poll, std::chrono::seconds(page.start_hour() + kHourSeconds - now_s));
    return out;
  }

  int64_t count = 0;
  const std::string now_text = FormatRfc3339(now);
  if (page.markets_size() > 0) {
    count = txn.exec_params(stream_sql::kInsertMarkets, *realm, page.start_hour(), now_text, rows)
                .affected_rows();
  }
  const int64_t gaps_from =
      page.markets_size() > 0 ? page.start_hour() + kHourSeconds : page.start_hour();
  if (gaps_from < page.next_hour()) {
    auto gaps =
        txn.exec_params(stream_sql::kInsertGaps, *realm, gaps_from, page.next_hour(), now_text);
    LOG(INFO) << "stream " << stream << ": " << gaps.affected_rows()
              << " hour(s) without markets from " << gaps_from << " to " << page.next_hour();
  }
  CheckpointStore::Advance(txn, stream, from, to, count, page.markets_size() > 0, c.agent_id, now);
  out.records_written = static_cast<int>(count);
  out.requeue_after = Duration::zero();
  return out;
}

void ExchangeStreamExtension::OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                        const Failure& f, TimePoint now) {
  RecordStreamFailure(txn, task.entity_id, f, now, ExchangeStreamName);
}

void ExchangeStreamExtension::OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                     const Failure& f, TimePoint now) {
  RecordStreamDead(txn, task.entity_id, f, now, ExchangeStreamName);
}

}  // namespace sluice::streams
