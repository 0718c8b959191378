// Progress of sluicectl's long-running commands (daily, jobs run --wait):
// what share is done, how fast it goes, when it should end, and what it
// waits for, drawn as one redrawn line on a terminal and as periodic lines
// in a pipe or a file.
//
// Thread-safety: none; one command's loop owns each object.
#ifndef SLUICE_CLIENT_PROGRESS_H_
#define SLUICE_CLIENT_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "sluice/v1/throttle.pb.h"

namespace sluice::cli {

// Done and pending units over time; the rate is over the last `window_s`.
class ProgressMeter {
 public:
  explicit ProgressMeter(double window_s = 10) : window_s_(window_s) {}

  void Add(double elapsed_s, int64_t done, int64_t pending);
  // Units per second over the window; 0 until two samples.
  double Rate() const;
  // Seconds left at the current rate; nullopt while the rate is 0.
  std::optional<double> EtaSeconds() const;
  // done / (done + pending), 0-100.
  int Percent() const;

 private:
  double window_s_;
  std::deque<std::pair<double, int64_t>> samples_;  // (elapsed, done)
  int64_t pending_ = 0;
};

// "45s", "3m05s", "1h02m".
std::string FormatDuration(double seconds);

// What calls wait for, from a ThrottlerService.ListBudgets listing (top >= 1):
// of the families' most constrained budgets whose name starts with `prefix`
// (an upstream: "esi/"), the one that cannot take a call for longest,
// "budget esi/group/character full until 17:10:42" or "... restricted until
// 17:10:42 (reason)"; empty if none waits. `now` is the listing's time.
std::string WaitReason(const v1::ListBudgetsResponse& budgets, const std::string& prefix);

// One progress line: on a terminal redrawn in place; elsewhere printed
// when `every_s` passed since the last one or its `key` (what it waits
// for) changed, so a log gets a line per interval, not per poll.
class ProgressLine {
 public:
  ProgressLine(std::FILE* out, bool terminal, double every_s)
      : out_(out), terminal_(terminal), every_s_(every_s) {}
  void Show(double elapsed_s, const std::string& line, const std::string& key);
  // Ends a redrawn line (the next output starts on its own line).
  void Finish();

 private:
  std::FILE* out_;
  bool terminal_;
  double every_s_;
  std::optional<double> last_s_;
  std::string last_key_;
  bool drawn_ = false;
};

}  // namespace sluice::cli

#endif  // SLUICE_CLIENT_PROGRESS_H_
