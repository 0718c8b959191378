#include "server/workflows/etl/ingest_status.h"

#include <nlohmann/json.hpp>

#include "common/time_util.h"
#include "server/workflows/etl/currency_transform.h"
#include "server/workflows/etl/etl_sql.h"
#include "server/workflows/etl/stash_transform.h"

namespace sluice::etl {
namespace {

std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromUnixSeconds(f.as<double>());
}

// How far an ETL transform is behind its raw table.
struct PendingSql {
  const char* count;
  const char* first_ingested;
};

std::optional<PendingSql> PendingSqlOf(const std::string& stream) {
  if (stream == kStashTransform) {
    return PendingSql{etl_sql::kStashPendingRows, etl_sql::kStashFirstPending};
  }
  if (stream == kCurrencyTransform) {
    return PendingSql{etl_sql::kExchangePendingRows, etl_sql::kExchangeFirstPending};
  }
  return std::nullopt;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int64_t IngestStatusReader::SampleEmptyPolls(const std::string& stream, TimePoint now,
                                             int64_t empty_polls) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& q = samples_[stream];
  if (q.empty() || q.back().first <= now) q.emplace_back(now, empty_polls);
  while (!q.empty() && now - q.front().first > window_) q.pop_front();
  if (q.empty()) return 0;
  return std::max<int64_t>(0, empty_polls - q.front().second);
}

absl::StatusOr<std::vector<StreamStatus>> IngestStatusReader::Read(TimePoint* now_out,
                                                                   const std::string& only) {
  const TimePoint now = clock_->Now();
  if (now_out) *now_out = now;
  const std::string now_text = FormatRfc3339(now);
  const double window_s = Seconds(window_);
  const double storm_s = Seconds(storm_window_);
  std::vector<StreamStatus> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    // One snapshot for every statement: under read committed a stream error
    // committed between kStatusErrors and kStatus429s made the status table
    // count 4 429s in the window while the storm rule fired on 5.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(conn);
    std::map<std::string, size_t> index;
    for (const auto& r : t.exec_params(etl_sql::kStatusCheckpoints, only)) {
      StreamStatus st;
      st.stream = r[0].as<std::string>();
      st.kind = KindOfStream(st.stream);
      st.cursor = r[1].as<std::string>();
      st.created_at = FromUnixSeconds(r[2].as<double>());
      st.updated_at = FromUnixSeconds(r[3].as<double>());
      st.polled_at = OptTime(r[4]);
      st.head_at = OptTime(r[5]);
      st.pages = r[6].as<int64_t>();
      st.rows = r[7].as<int64_t>();
      st.empty_polls = r[8].as<int64_t>();
      index[st.stream] = out.size();
      out.push_back(std::move(st));
    }
    if (out.empty()) return absl::OkStatus();
    auto find = [&](const pqxx::field& f) -> StreamStatus* {
      auto it = index.find(f.as<std::string>());
      return it == index.end() ? nullptr : &out[it->second];
    };
    for (const auto& r : t.exec_params(etl_sql::kStatusTransitions, now_text, window_s, only)) {
      if (StreamStatus* st = find(r[0])) {
        st->pages_window = r[1].as<int64_t>();
        st->rows_window = r[2].as<int64_t>();
        st->rejected_rewinds = r[3].as<int64_t>();
      }
    }
    for (const auto& r : t.exec_params(etl_sql::kStatusErrors, now_text, window_s, only)) {
      if (StreamStatus* st = find(r[0])) {
        st->errors_total = r[1].as<int64_t>();
        st->errors_window = r[2].as<int64_t>();
        st->http_429_window = r[3].as<int64_t>();
      }
    }
    for (const auto& r : t.exec_params(etl_sql::kStatus429s, now_text, storm_s, only)) {
      if (StreamStatus* st = find(r[0])) {
        st->recent_429s.push_back(FromUnixSeconds(r[1].as<double>()));
      }
    }
    for (StreamStatus& st : out) {
      const std::optional<PendingSql> pending = PendingSqlOf(st.stream);
      if (!pending) continue;
      int64_t cursor = 0;
      if (!st.cursor.empty()) cursor = std::strtoll(st.cursor.c_str(), nullptr, 10);
      st.pending_rows = t.exec_params(pending->count, cursor)[0][0].as<int64_t>();
      if (st.pending_rows > 0) {
        auto first = t.exec_params(pending->first_ingested, cursor);
        if (!first.empty()) st.pending_since = FromUnixSeconds(first[0][0].as<double>());
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  const double window_min = window_s / 60;
  for (StreamStatus& st : out) {
    st.empty_polls_window = SampleEmptyPolls(st.stream, now, st.empty_polls);
    st.requests_per_min =
        window_min > 0 ? (st.pages_window + st.empty_polls_window + st.errors_window) / window_min
                       : 0;
    st.lag_seconds = IngestLag(st, now);
  }
  return out;
}

absl::Status IngestStatusReader::WriteTable(const std::vector<StreamStatus>& snapshot,
                                            TimePoint now) {
  nlohmann::json rows = nlohmann::json::array();
  auto ts = [](const std::optional<TimePoint>& t) {
    return t ? nlohmann::json(FormatRfc3339(*t)) : nlohmann::json();
  };
  for (const StreamStatus& s : snapshot) {
    rows.push_back({{"stream", s.stream},
                    {"kind", StreamKindName(s.kind)},
                    {"cursor", s.cursor},
                    {"updated_at", FormatRfc3339(s.updated_at)},
                    {"polled_at", ts(s.polled_at)},
                    {"head_at", ts(s.head_at)},
                    {"lag_seconds", s.lag_seconds},
                    {"pages_total", s.pages},
                    {"rows_total", s.rows},
                    {"empty_polls_total", s.empty_polls},
                    {"pages_5m", s.pages_window},
                    {"rows_5m", s.rows_window},
                    {"requests_per_min", s.requests_per_min},
                    {"errors_5m", s.errors_window},
                    {"errors_total", s.errors_total},
                    {"http_429_5m", s.http_429_window},
                    {"rejected_rewinds", s.rejected_rewinds},
                    {"pending_rows", s.pending_rows}});
  }
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(etl_sql::kDeleteStaleStatus, rows.dump());
    w.exec_params(etl_sql::kUpsertStatus, rows.dump(), FormatRfc3339(now));
    w.commit();
    return absl::OkStatus();
  });
}

}  // namespace sluice::etl
