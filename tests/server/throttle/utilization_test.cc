// End-to-end check of the design goal against a FakeClock: many workers
// lease tokens, call a fake upstream that enforces its limits the way ESI and
// PoE do (and the simulator in sim/ does), and report back with ages, in
// batches. The upstream counts a violation for every call it refuses.
// Requirement: zero violations and >= 98% of each budget used.
#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

// A fake upstream: admits or refuses a call at arrival, answers it later.
class FakeUpstream {
 public:
  virtual ~FakeUpstream() = default;
  // False = the upstream considers us limited: a violation.
  virtual bool Admit(TimePoint now, const std::string& egress, int64_t* ticket) = 0;
  virtual HeaderList Answer(int64_t ticket, int status, TimePoint now, bool admitted) = 0;
  // Units admitted with arrival in [from, to).
  virtual int64_t UnitsBetween(TimePoint from, TimePoint to) const = 0;
};

// ESI: floating-window group (admits if a 2xx's cost is left; refused calls
// cost nothing; spent tokens return one window after arrival) and the error
// limit (a window opens with the first error; 420 at zero).
class FakeEsi : public FakeUpstream {
 public:
  FakeEsi(int limit, Duration window, std::string group)
      : limit_(limit), window_(window), group_(std::move(group)) {}

  bool Admit(TimePoint now, const std::string&, int64_t* ticket) override {
    Expire(now);
    if (error_window_open_ && now >= error_end_) {
      error_window_open_ = false;
      error_remain_ = 100;
    }
    if (error_window_open_ && error_remain_ == 0) return false;
    if (limit_ - used_ < 2) return false;
    spends_.push_back(Spend{now, 2});
    used_ += 2;
    *ticket = static_cast<int64_t>(spends_.size()) - 1;
    return true;
  }

  HeaderList Answer(int64_t ticket, int status, TimePoint now, bool admitted) override {
    Expire(now);
    if (admitted) {
      int cost = costs_.ForStatus(status);
      Spend& s = spends_[ticket];
      if (static_cast<size_t>(ticket) >= first_alive_) used_ += cost - s.cost;
      s.cost = cost;
      if (status >= 400) {
        if (!error_window_open_) {
          error_window_open_ = true;
          error_end_ = now + seconds(60);
        }
        if (error_remain_ > 0) --error_remain_;
      }
    }
    int64_t reset =
        error_window_open_
            ? std::chrono::duration_cast<seconds>(error_end_ - now + seconds(1) - milliseconds(1))
                  .count()
            : 60;
    return {{"X-Ratelimit-Group", group_},
            {"X-Ratelimit-Limit",
             absl::StrCat(limit_, "/", std::chrono::duration_cast<seconds>(window_).count(), "s")},
            {"X-Ratelimit-Remaining", std::to_string(std::max(0, limit_ - used_))},
            {"X-Ratelimit-Used", std::to_string(used_)},
            {"X-ESI-Error-Limit-Remain", std::to_string(error_remain_)},
            {"X-ESI-Error-Limit-Reset", std::to_string(reset)}};
  }

  int64_t UnitsBetween(TimePoint from, TimePoint to) const override {
    int64_t units = 0;
    for (const Spend& s : spends_) {
      if (s.at >= from && s.at < to) units += s.cost;
    }
    return units;
  }

 private:
  struct Spend {
    TimePoint at;
    int cost;
  };
  void Expire(TimePoint now) {
    while (first_alive_ < spends_.size() && spends_[first_alive_].at + window_ <= now) {
      used_ -= spends_[first_alive_].cost;
      ++first_alive_;
    }
  }

  const int limit_;
  const Duration window_;
  const std::string group_;
  EsiCostTable costs_;
  std::vector<Spend> spends_;
  size_t first_alive_ = 0;
  int used_ = 0;
  bool error_window_open_ = false;
  TimePoint error_end_;
  int error_remain_ = 100;
};

// PoE: every tier counts hits within its period per client address; a call
// that would exceed a tier is refused and restricts; refused calls are not hits.
class FakePoe : public FakeUpstream {
 public:
  struct Tier {
    int hits;
    int period_s;
    int restriction_s;
  };
  explicit FakePoe(std::vector<Tier> tiers) : tiers_(std::move(tiers)) {}

  bool Admit(TimePoint now, const std::string& egress, int64_t* ticket) override {
    Client& c = clients_[egress];
    c.hits.resize(tiers_.size());
    c.restricted_until.resize(tiers_.size());
    bool ok = true;
    for (size_t i = 0; i < tiers_.size(); ++i) {
      Expire(&c, i, now);
      if (now < c.restricted_until[i]) ok = false;
      if (static_cast<int>(c.hits[i].size()) + 1 > tiers_[i].hits) {
        ok = false;
        c.restricted_until[i] =
            std::max(c.restricted_until[i], now + seconds(tiers_[i].restriction_s));
      }
    }
    if (!ok) return false;
    for (size_t i = 0; i < tiers_.size(); ++i) c.hits[i].push_back(now);
    all_hits_.push_back(now);
    *ticket = 0;
    last_egress_ = egress;
    return true;
  }

  HeaderList Answer(int64_t, int, TimePoint now, bool) override {
    Client& c = clients_[last_egress_];
    std::string limit, state;
    for (size_t i = 0; i < tiers_.size(); ++i) {
      Expire(&c, i, now);
      if (i > 0) {
        limit += ",";
        state += ",";
      }
      limit += absl::StrCat(tiers_[i].hits, ":", tiers_[i].period_s, ":", tiers_[i].restriction_s);
      int64_t active =
          now < c.restricted_until[i]
              ? std::chrono::duration_cast<seconds>(c.restricted_until[i] - now).count()
              : 0;
      state += absl::StrCat(c.hits[i].size(), ":", tiers_[i].period_s, ":", active);
    }
    return {{"X-Rate-Limit-Policy", "stash"},
            {"X-Rate-Limit-Rules", "Ip"},
            {"X-Rate-Limit-Ip", limit},
            {"X-Rate-Limit-Ip-State", state}};
  }

  int64_t UnitsBetween(TimePoint from, TimePoint to) const override {
    int64_t n = 0;
    for (TimePoint t : all_hits_) n += (t >= from && t < to) ? 1 : 0;
    return n;
  }

 private:
  struct Client {
    std::vector<std::deque<TimePoint>> hits;
    std::vector<TimePoint> restricted_until;
  };
  void Expire(Client* c, size_t i, TimePoint now) {
    while (!c->hits[i].empty() && c->hits[i].front() + seconds(tiers_[i].period_s) <= now) {
      c->hits[i].pop_front();
    }
  }
  std::vector<Tier> tiers_;
  std::map<std::string, Client> clients_;
  std::vector<TimePoint> all_hits_;
  std::string last_egress_;
};

// Workers behave like the agent's CoordinatorRateGate: lease a small batch,
// spend it one call at a time (never within 250 ms of expiry), report every
// 50 ms with ages, return what is left when the lease is revoked or expires.
class Simulation {
 public:
  struct Config {
    int workers = 16;
    int lease_batch = 4;
    CallKey key;
    std::vector<std::string> egresses = {""};
    Duration min_latency = milliseconds(20);
    Duration max_latency = milliseconds(80);
    double p_304 = 0.02;
    double p_404 = 0.01;
    double p_500 = 0;
  };

  Simulation(Config config, FakeUpstream* upstream, ThrottlerOptions options)
      : config_(std::move(config)), upstream_(upstream), clock_(kT0), rng_(42) {
    options.seed = 7;
    throttler_ = std::make_unique<Throttler>(&clock_, options);
    throttler_->AddRevocationListener([this](const RevocationEvent& e) {
      for (auto& [id, holder] : e.leases) {
        for (Worker& w : workers_) {
          if (w.lease_id == id) w.revoked = true;
        }
      }
    });
    workers_.resize(config_.workers);
    for (int i = 0; i < config_.workers; ++i) {
      workers_[i].id = absl::StrCat("w", i);
      workers_[i].key = config_.key;
      workers_[i].key.egress = config_.egresses[i % config_.egresses.size()];
      At(kT0 + milliseconds(i), [this, i] { Ready(i); });
    }
  }

  void RunUntil(TimePoint end) {
    while (!events_.empty() && events_.top().at <= end) {
      Event e = events_.top();
      events_.pop();
      clock_.Set(std::max(clock_.Now(), e.at));
      e.fn();
    }
    clock_.Set(end);
  }

  int64_t violations() const { return violations_; }
  int64_t calls() const { return calls_; }
  Throttler* throttler() { return throttler_.get(); }

 private:
  struct Worker {
    std::string id;
    CallKey key;
    int64_t lease_id = 0;
    int tokens = 0;
    TimePoint deadline;
    bool revoked = false;
    bool busy = false;
    bool waiting = false;
    std::vector<Observation> pending;
    std::vector<std::pair<TimePoint, TimePoint>> timing;  // sent, answered
    std::vector<TokenReturn> returns;
    bool flush_scheduled = false;
  };
  struct Event {
    TimePoint at;
    int64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void At(TimePoint t, std::function<void()> fn) { events_.push(Event{t, seq_++, std::move(fn)}); }

  Duration Latency() {
    std::uniform_int_distribution<int64_t> d(
        std::chrono::duration_cast<milliseconds>(config_.min_latency).count(),
        std::chrono::duration_cast<milliseconds>(config_.max_latency).count());
    return milliseconds(d(rng_));
  }

  void Ready(int i) {
    Worker& w = workers_[i];
    w.waiting = false;
    if (w.busy) return;
    const TimePoint now = clock_.Now();
    if (w.tokens > 0 && (w.revoked || now >= w.deadline)) {
      w.returns.push_back(TokenReturn{w.lease_id, w.tokens});
      w.tokens = 0;
      ScheduleFlush(i);
    }
    if (w.tokens == 0) {
      auto g = throttler_->LeaseTokens(w.id, w.key, config_.lease_batch);
      ASSERT_TRUE(g.ok()) << g.status();
      if (g->granted == 0) {
        w.waiting = true;
        At(std::max(g->retry_at, now + milliseconds(1)), [this, i] { Ready(i); });
        return;
      }
      w.lease_id = g->lease_id;
      w.tokens = static_cast<int>(g->granted);
      w.revoked = false;
      w.deadline = now + g->ttl - milliseconds(250);
    }
    --w.tokens;
    w.busy = true;
    const int64_t lease = w.lease_id;
    const TimePoint sent = now;
    At(now + Latency(), [this, i, lease, sent] { Arrive(i, lease, sent); });
  }

  void Arrive(int i, int64_t lease, TimePoint sent) {
    int64_t ticket = -1;
    const bool admitted = upstream_->Admit(clock_.Now(), workers_[i].key.egress, &ticket);
    ++calls_;
    if (!admitted) ++violations_;
    At(clock_.Now() + Latency(),
       [this, i, lease, sent, ticket, admitted] { Answer(i, lease, sent, ticket, admitted); });
  }

  void Answer(int i, int64_t lease, TimePoint sent, int64_t ticket, bool admitted) {
    Worker& w = workers_[i];
    std::uniform_real_distribution<double> u(0, 1);
    double r = u(rng_);
    int status = !admitted                                           ? 429
                 : r < config_.p_404                                 ? 404
                 : r < config_.p_404 + config_.p_304                 ? 304
                 : r < config_.p_404 + config_.p_304 + config_.p_500 ? 500
                                                                     : 200;
    Observation o;
    o.key = w.key;
    o.status = status;
    o.headers = upstream_->Answer(ticket, status, clock_.Now(), admitted);
    o.lease_id = lease;
    w.pending.push_back(std::move(o));
    w.timing.emplace_back(sent, clock_.Now());
    ScheduleFlush(i);
    w.busy = false;
    Ready(i);
  }

  void ScheduleFlush(int i) {
    Worker& w = workers_[i];
    if (w.flush_scheduled) return;
    w.flush_scheduled = true;
    At(clock_.Now() + milliseconds(50), [this, i] { Flush(i); });
  }

  void Flush(int i) {
    Worker& w = workers_[i];
    w.flush_scheduled = false;
    const TimePoint now = clock_.Now();
    for (size_t k = 0; k < w.pending.size(); ++k) {
      w.pending[k].sent_age = now - w.timing[k].first;
      w.pending[k].response_age = now - w.timing[k].second;
    }
    throttler_->ReportBatch(w.id, w.pending, w.returns);
    w.pending.clear();
    w.timing.clear();
    w.returns.clear();
  }

  Config config_;
  FakeUpstream* upstream_;
  FakeClock clock_;
  std::mt19937_64 rng_;
  std::unique_ptr<Throttler> throttler_;
  std::vector<Worker> workers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  int64_t seq_ = 0;
  int64_t violations_ = 0;
  int64_t calls_ = 0;
};

double Utilisation(const FakeUpstream& upstream, int64_t limit, Duration window, int windows,
                   TimePoint from) {
  int64_t units = upstream.UnitsBetween(from, from + window * windows);
  double u = static_cast<double>(units) / static_cast<double>(limit * windows);
  std::string per_window;
  for (int i = 0; i < windows; ++i) {
    absl::StrAppend(&per_window, " ",
                    upstream.UnitsBetween(from + window * i, from + window * (i + 1)));
  }
  std::printf("utilisation %.4f; units per window:%s\n", u, per_window.c_str());
  return u;
}

TEST(UtilisationTest, EsiGroupShortWindowZeroViolationsAtLeast98Percent) {
  FakeEsi esi(600, seconds(60), "alliance");
  Simulation::Config config;
  config.key = CallKey{Upstream::kEsi, "/alliances/{id}/", ""};
  Simulation sim(config, &esi, ThrottlerOptions{});
  sim.RunUntil(kT0 + seconds(60 * 12));
  EXPECT_EQ(sim.violations(), 0);
  double u = Utilisation(esi, 600, seconds(60), 10, kT0 + seconds(120));
  EXPECT_GE(u, 0.98) << "calls " << sim.calls();
  EXPECT_LE(u, 1.0);
}

TEST(UtilisationTest, EsiGroupLongWindowZeroViolationsAtLeast98Percent) {
  FakeEsi esi(150, seconds(900), "char-detail");
  Simulation::Config config;
  config.workers = 8;
  config.key = CallKey{Upstream::kEsi, "/characters/{id}/", ""};
  Simulation sim(config, &esi, ThrottlerOptions{});
  sim.RunUntil(kT0 + seconds(900 * 6));
  EXPECT_EQ(sim.violations(), 0);
  double u = Utilisation(esi, 150, seconds(900), 4, kT0 + seconds(1800));
  EXPECT_GE(u, 0.98);
  EXPECT_LE(u, 1.0);
}

TEST(UtilisationTest, PoeTiersZeroViolationsAtLeast98PercentOfTheBindingTier) {
  // 45/60 s allows 0.75/s, 180/1800 s allows 0.1/s: the long tier binds.
  FakePoe poe({{45, 60, 120}, {180, 1800, 600}});
  Simulation::Config config;
  config.workers = 6;
  config.lease_batch = 2;
  config.p_304 = 0;
  config.p_404 = 0;
  config.key = CallKey{Upstream::kPoe, "/public-stash-tabs", ""};
  config.egresses = {"10.0.0.1"};
  Simulation sim(config, &poe, ThrottlerOptions{});
  sim.RunUntil(kT0 + seconds(1800 * 5));
  EXPECT_EQ(sim.violations(), 0);
  double u = Utilisation(poe, 180, seconds(1800), 4, kT0 + seconds(1800));
  EXPECT_GE(u, 0.98);
  EXPECT_LE(u, 1.0);
}

TEST(UtilisationTest, PoeShortTierZeroViolationsAtLeast98Percent) {
  FakePoe poe({{8, 10, 60}});
  Simulation::Config config;
  config.workers = 4;
  config.lease_batch = 2;
  config.p_304 = 0;
  config.p_404 = 0;
  config.key = CallKey{Upstream::kPoe, "/currency-exchange", ""};
  config.egresses = {"10.0.0.1"};
  Simulation sim(config, &poe, ThrottlerOptions{});
  sim.RunUntil(kT0 + seconds(10 * 62));
  EXPECT_EQ(sim.violations(), 0);
  double u = Utilisation(poe, 8, seconds(10), 60, kT0 + seconds(20));
  EXPECT_GE(u, 0.98);
  EXPECT_LE(u, 1.0);
}

TEST(UtilisationTest, ManyWorkersSlowAndFailingCallsStillZeroViolations) {
  // Large batches, many workers, answers taking up to 1.5 s, 4xx (costing
  // more than a 2xx) and 5xx mixed in. Slow answers cost utilisation (a token
  // is only known to be back one window after its answer), never violations.
  FakeEsi esi(600, seconds(60), "corporation");
  Simulation::Config config;
  config.workers = 48;
  config.lease_batch = 8;
  config.min_latency = milliseconds(5);
  config.max_latency = milliseconds(750);
  config.p_304 = 0.1;
  config.p_404 = 0.03;
  config.p_500 = 0.02;
  config.key = CallKey{Upstream::kEsi, "/corporations/{id}/", ""};
  Simulation sim(config, &esi, ThrottlerOptions{});
  sim.RunUntil(kT0 + seconds(60 * 12));
  EXPECT_EQ(sim.violations(), 0);
  EXPECT_GE(Utilisation(esi, 600, seconds(60), 10, kT0 + seconds(120)), 0.95);
}

}  // namespace
}  // namespace sluice::throttle
