#include "bench/bench_util.h"

#include <glog/logging.h>

#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/throttle/throttle_state.h"

namespace sluice::bench {

void CheckOk(const absl::Status& status, const char* what) {
  CHECK(status.ok()) << what << ": " << status;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

int64_t ResidentKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::string digits;
    for (char ch : line) {
      if (ch >= '0' && ch <= '9') digits.push_back(ch);
    }
    int64_t kib = -1;
    return absl::SimpleAtoi(digits, &kib) ? kib : -1;
  }
  return -1;
}

CoordinatorOptions LocalCoordinatorOptions(const std::string& dsn, int pool_size) {
  CoordinatorOptions co;
  co.listen = "127.0.0.1:0";
  co.dsn = dsn;
  co.db_pool_size = pool_size;
  co.scheduler.enabled = false;
  return co;
}

absl::Status ClearThrottleState(const std::string& dsn) {
  try {
    pqxx::connection conn(dsn);
    pqxx::nontransaction nt(conn);
    pqxx::result r = nt.exec("SELECT to_regclass('system_state') IS NOT NULL");
    if (r[0][0].as<bool>()) {
      nt.exec_params("DELETE FROM system_state WHERE key = $1 OR starts_with(key, $2)",
                     throttle::kThrottleStateKey, throttle::kThrottleRowsPrefix);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot clear throttler state: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Open(const std::string& dsn,
                                                                       const std::string& prefix) {
  std::unique_ptr<ScratchDatabase> db(new ScratchDatabase());
  try {
    if (!dsn.empty()) {
      db->dsn_ = dsn;
      // Whatever an earlier run left: a run starts from an empty queue and
      // no entities, so it does all the work it measures.
      pqxx::connection c(dsn);
      pqxx::work w(c);
      for (const char* table :
           {"killmail_participants", "character_killmails", "killmails", "character_tokens",
            "discovery_queue", "entity_cache", "dead_tasks", "alliance_static",
            "alliance_ephemeral", "corporation_static", "corporation_ephemeral", "character_static",
            "character_ephemeral", "universe_types"}) {
        if (!w.exec_params("SELECT to_regclass($1) IS NOT NULL", table)[0][0].as<bool>()) continue;
        w.exec(absl::StrCat("TRUNCATE ", table, " CASCADE"));
      }
      w.commit();
    } else {
      const char* admin = std::getenv("SLUICE_PG_ADMIN_DSN");
      if (admin == nullptr || *admin == '\0') {
        return absl::InvalidArgumentError("pass --dsn or set SLUICE_PG_ADMIN_DSN");
      }
      db->admin_dsn_ = admin;
      const std::string name = absl::StrCat(prefix, "_", getpid());
      pqxx::connection c(db->admin_dsn_);
      pqxx::nontransaction n(c);
      n.exec("CREATE DATABASE " + name);
      db->created_db_ = name;
      // Same server and credentials, other database.
      std::string base = db->admin_dsn_;
      if (auto pos = base.find("dbname="); pos != std::string::npos) {
        auto end = base.find(' ', pos);
        base.erase(pos, end == std::string::npos ? std::string::npos : end - pos);
      }
      db->dsn_ = base + " dbname=" + name;
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot prepare a scratch database: ", e.what()));
  }
  if (absl::Status s = ClearThrottleState(db->dsn_); !s.ok()) return s;
  return db;
}

ScratchDatabase::~ScratchDatabase() {
  if (created_db_.empty()) return;
  try {
    pqxx::connection admin(admin_dsn_);
    pqxx::nontransaction n(admin);
    n.exec("DROP DATABASE IF EXISTS " + created_db_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot drop %s: %s\n", created_db_.c_str(), e.what());
  }
}

int64_t ScratchDatabase::QueryInt(const std::string& sql) const {
  pqxx::connection c(dsn_);
  pqxx::nontransaction n(c);
  pqxx::result r = n.exec(sql);
  return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int64_t>();
}

namespace {

absl::StatusOr<nlohmann::json> SimCall(int port, const std::string& path, bool post) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  const httplib::Headers headers{{"User-Agent", "sluice-bench"}};
  httplib::Result res = post ? client.Post(path.c_str(), headers, "", "application/json")
                             : client.Get(path.c_str(), headers);
  if (!res) return absl::UnavailableError(absl::StrCat(path, ": no answer from the simulator"));
  if (res->status != 200) {
    return absl::InternalError(absl::StrCat(path, ": HTTP ", res->status, " ", res->body));
  }
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return absl::InternalError(absl::StrCat(path, ": not JSON"));
  return body;
}

}  // namespace

absl::StatusOr<nlohmann::json> SimGet(int port, const std::string& path) {
  return SimCall(port, path, /*post=*/false);
}

absl::StatusOr<nlohmann::json> SimPost(int port, const std::string& path) {
  return SimCall(port, path, /*post=*/true);
}

int64_t ReportViolations(const nlohmann::json& sim_stats) {
  const nlohmann::json& v = sim_stats["violations"];
  const int64_t total = v.value("total", int64_t{0});
  if (total == 0) {
    std::printf("violations          0 (the simulator refused nothing)\n");
  } else {
    const std::string bar(78, '!');
    std::printf(
        "%s\n!! UPSTREAM LIMIT VIOLATIONS: %lld (zero is the invariant; exiting non-zero)\n"
        "!! %s\n%s\n",
        bar.c_str(), static_cast<long long>(total), v.dump().c_str(), bar.c_str());
  }
  std::fflush(stdout);
  return total;
}

}  // namespace sluice::bench
