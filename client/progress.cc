#include "client/progress.h"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace sluice::cli {

void ProgressMeter::Add(double elapsed_s, int64_t done, int64_t pending) {
  samples_.emplace_back(elapsed_s, done);
  pending_ = pending;
  while (samples_.size() > 2 && samples_.front().first < elapsed_s - window_s_) {
    samples_.pop_front();
  }
}

double ProgressMeter::Rate() const {
  if (samples_.size() < 2) return 0;
  const double dt = samples_.back().first - samples_.front().first;
  const int64_t dn = samples_.back().second - samples_.front().second;
  return dt > 0 && dn > 0 ? static_cast<double>(dn) / dt : 0;
}

std::optional<double> ProgressMeter::EtaSeconds() const {
  const double rate = Rate();
  if (rate <= 0) return std::nullopt;
  return static_cast<double>(pending_) / rate;
}

int ProgressMeter::Percent() const {
  const int64_t done = samples_.empty() ? 0 : samples_.back().second;
  if (done + pending_ <= 0) return 0;
  return static_cast<int>(100 * done / (done + pending_));
}

std::string FormatDuration(double seconds) {
  const int64_t s = std::max<int64_t>(0, std::llround(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

namespace {

std::string ClockTime(const google::protobuf::Timestamp& t) {
  const std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

bool After(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() > b.seconds() || (a.seconds() == b.seconds() && a.nanos() > b.nanos());
}

}  // namespace

std::string WaitReason(const v1::ListBudgetsResponse& budgets, const std::string& prefix) {
  const google::protobuf::Timestamp& now = budgets.now();
  // The budget whose wait ends last: what the run waits for longest.
  const v1::Budget* worst = nullptr;
  bool worst_restricted = false;
  google::protobuf::Timestamp worst_until;
  for (const v1::BudgetFamily& family : budgets.families()) {
    for (const v1::Budget& b : family.most_constrained()) {
      if (b.name().compare(0, prefix.size(), prefix) != 0) continue;
      const bool restricted = b.has_restricted_until() && After(b.restricted_until(), now);
      const google::protobuf::Timestamp& until =
          restricted ? b.restricted_until() : b.next_permitted();
      if (!restricted && !(b.has_next_permitted() && After(until, now))) continue;
      if (worst == nullptr || After(until, worst_until)) {
        worst = &b;
        worst_restricted = restricted;
        worst_until = until;
      }
    }
  }
  if (worst == nullptr) return "";
  std::string out = "budget " + worst->name() +
                    (worst_restricted ? " restricted until " : " full until ") +
                    ClockTime(worst_until);
  if (worst_restricted && !worst->restriction_reason().empty()) {
    out += " (" + worst->restriction_reason() + ")";
  }
  return out;
}

void ProgressLine::Show(double elapsed_s, const std::string& line, const std::string& key) {
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    drawn_ = true;
  } else {
    if (last_s_ && elapsed_s - *last_s_ < every_s_ && key == last_key_) return;
    std::fprintf(out_, "%s\n", line.c_str());
    last_s_ = elapsed_s;
    last_key_ = key;
  }
  std::fflush(out_);
}

void ProgressLine::Finish() {
  if (terminal_ && drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
  std::fflush(out_);
}

}  // namespace sluice::cli
