#include "server/leader/leader_elector.h"

#include <glog/logging.h>

#include "server/leader/leader_sql.h"
#include "server/store/lock_keys.h"
#include "server/store/pg_pool.h"

namespace sluice {
void SleepUnless(const std::atomic<bool>& stop, std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min(d, std::chrono::milliseconds(20)));
  }
}

std::function<void(pqxx::connection&)> FenceSessions(int64_t epoch) {
  const std::string text = std::to_string(epoch);
  return [text](pqxx::connection& conn) {
    pqxx::nontransaction nt(conn);
    nt.exec_params(leader_sql::kFenceSession, text, "sluice-coordinator epoch=" + text);
  };
}

LeaderElector::LeaderElector(LeaderElectorOptions options) : options_(std::move(options)) {}

LeaderElector::~LeaderElector() { Resign(); }

int64_t LeaderElector::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status LeaderElector::Connect() {
  // Client-side keepalives too: the leader must notice a dead network even
  // while its check is blocked in a read.
  std::string dsn = DsnWithConnectTimeout(options_.dsn, std::chrono::seconds(3));
  for (const auto& [key, value] : {std::pair<const char*, const char*>{"keepalives", "1"},
                                   {"keepalives_idle", "5"},
                                   {"keepalives_interval", "2"},
                                   {"keepalives_count", "2"}}) {
    dsn = DsnWithParam(dsn, key, value);
  }
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn);
    pqxx::nontransaction nt(*conn);
    nt.exec(leader_sql::kSessionSettings);
    conn_ = std::move(conn);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    conn_.reset();
    return PgPool::StatusFromException(e);
  }
}

absl::Status LeaderElector::AcquireLock(const std::atomic<bool>& stop) {
  std::lock_guard<std::mutex> lock(conn_mu_);
  bool announced = false;
  absl::Status last_error;
  while (!stop) {
    if (!conn_) {
      if (absl::Status s = Connect(); !s.ok()) {
        if (s.ToString() != last_error.ToString()) {
          LOG(WARNING) << "standby: cannot reach the database to contend for leadership: " << s;
          last_error = s;
        }
        SleepUnless(stop, options_.poll_interval);
        continue;
      }
    }
    try {
      pqxx::nontransaction nt(*conn_);
      if (nt.exec_params1(leader_sql::kTryLock, lock_keys::kLeader)[0].as<bool>()) {
        return absl::OkStatus();
      }
      if (!announced) {
        pqxx::result r;
        if (nt.exec1(leader_sql::kLeaderTableExists)[0].as<bool>()) {
          r = nt.exec(leader_sql::kCurrentLeader);
        }
        LOG(INFO) << "standing by: another coordinator leads"
                  << (r.empty() ? std::string()
                                : " (" + std::string(r[0][1].c_str()) + ", epoch " +
                                      r[0][0].c_str() + ", since " + r[0][2].c_str() + ")");
        announced = true;
      }
    } catch (const std::exception& e) {
      LOG(WARNING) << "standby: contending for leadership: " << PgPool::StatusFromException(e);
      conn_.reset();
    }
    SleepUnless(stop, options_.poll_interval);
  }
  return absl::CancelledError("stopped before leading");
}

absl::StatusOr<int64_t> LeaderElector::TakeEpoch() {
  std::lock_guard<std::mutex> lock(conn_mu_);
  if (!conn_) return absl::FailedPreconditionError("TakeEpoch without the leader lock");
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      pqxx::work w(*conn_);
      w.exec(leader_sql::kBumpLockTimeout);
      w.exec(leader_sql::kLockLeaderRow);
      const int64_t epoch =
          w.exec_params1(leader_sql::kBumpEpoch, options_.holder)[0].as<int64_t>();
      w.commit();
      epoch_ = epoch;
      return epoch;
    } catch (const pqxx::undefined_table&) {
      return absl::FailedPreconditionError(
          "the schema predates 0015_leader (no sluice_leader table): start with --migrate or run "
          "`sluicectl migrate` first");
    } catch (const std::exception& e) {
      const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
      const bool lock_timeout = sql != nullptr && sql->sqlstate() == "55P03";
      if (!lock_timeout || attempt > 0) return PgPool::StatusFromException(e);
      // An earlier leader's transaction has held the fence for 2 s: end its
      // sessions (their transactions roll back; its agents retry) and bump.
      try {
        pqxx::nontransaction nt(*conn_);
        const int64_t ended = nt.exec1(leader_sql::kEndEarlierSessions)[0].as<int64_t>();
        LOG(WARNING) << "ended " << ended << " database session(s) of an earlier leader that "
                     << "held the fence for over 2 s";
      } catch (const std::exception& e2) {
        return PgPool::StatusFromException(e2);
      }
    }
  }
  return absl::InternalError("unreachable");
}

void LeaderElector::StartWatch() {
  if (watching_.exchange(true)) return;
  lost_ = false;
  last_ok_ns_ = NowNs();
  watch_ = std::thread([this] { WatchLoop(); });
}

void LeaderElector::WatchLoop() {
  while (watching_ && !lost_) {
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      try {
        if (!conn_) throw std::runtime_error("no lock session");
        pqxx::nontransaction nt(*conn_);
        const int64_t now_epoch = nt.exec1(leader_sql::kCheckEpoch)[0].as<int64_t>();
        if (now_epoch != epoch_) {
          LOG(ERROR) << "leadership lost: epoch " << now_epoch << " was taken after ours ("
                     << epoch_ << ")";
          lost_ = true;
        } else {
          last_ok_ns_ = NowNs();
        }
      } catch (const std::exception& e) {
        LOG(ERROR) << "leadership lost: the lock session failed: "
                   << PgPool::StatusFromException(e);
        lost_ = true;
      }
    }
    const auto until = std::chrono::steady_clock::now() + options_.check_interval;
    while (watching_ && !lost_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

bool LeaderElector::Lost() const {
  if (lost_) return true;
  if (!watching_) return false;
  return NowNs() - last_ok_ns_.load() >
         std::chrono::duration_cast<std::chrono::nanoseconds>(options_.lost_after).count();
}

void LeaderElector::Resign() {
  watching_ = false;
  if (watch_.joinable()) watch_.join();
  std::lock_guard<std::mutex> lock(conn_mu_);
  if (conn_) {
    // Closing the session releases the lock, whatever state it is in.
    conn_->disconnect();
    conn_.reset();
  }
  epoch_ = 0;
}

}  // namespace sluice
