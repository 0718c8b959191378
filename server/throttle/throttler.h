// Throttler is the coordinator's global throttler: one instance owns every
// upstream budget, shared by all agents on all hosts and by other teams. It
// is a plain C++ facade (no gRPC, no database): ThrottleServiceImpl puts it
// on the wire and StatePersister saves it in system_state.
//
// Model (details in the headers of the pieces):
//   * A call is keyed by (upstream, route, egress, caller) (CallKey). RouteMap
//     resolves it to the budgets the upstream bills it to: ESI -> the
//     caller's bucket of the route's rate-limit group (character for an
//     authenticated call, source address for a public one) + the address's
//     error limit; PoE -> one budget per rule tier, scoped by the rule's name.
//     A route whose group is not known yet may be called only while every
//     known group of its caller has room; a route seen answering without group
//     headers is governed by the error limit alone.
//   * n calls may go now only if every budget of the route can take them
//     (the tightest wins); the next permitted time is the latest over the
//     route's budgets of their window and restriction times.
//   * Calls are granted as leases (LeaseTokens, and Acquire for other teams):
//     each outstanding call of a lease holds its worst-case cost as an
//     in-flight reservation in every budget of the route until the response is
//     reported (settled at the real cost in the budgets the response shows it
//     drew from, released in the others), the call is returned unspent, or
//     the lease lapses (charged at worst, answered as late as possible). A
//     lease granted with arm_before_use (token_lease.h) keeps past its expiry
//     only the calls its holder armed and has not reported: the others cannot
//     have been made and are released at expiry.
//   * Reported responses teach the model: headers name the group/policy and
//     their limits (shared by every caller of the family), correct the
//     caller's ledger toward the more conservative value (never the other
//     way), and 429 / 420 / active PoE restrictions block that budget and
//     revoke every open lease on it.
//   * Budgets are made on first use and dropped once idle and fully refilled,
//     so 100,000 characters cost memory only while they are busy; every
//     decision is O(budgets of one route).
//   * Zero violations is the invariant; utilisation comes from settling at
//     real costs and from precise answer times (Observation::response_age).
//
// Time: every decision reads the injected Clock; lapses, idle budgets and
// restriction ends are processed lazily at the start of each call, so there
// is no thread.
//
// Ownership: borrows the Clock (must outlive the Throttler); owns the rest.
// Thread-safety: every public method is thread-safe (one mutex; decisions are
// O(budgets of the route) and allocation-light). What walks many budgets
// (Snapshot, ListBudgetFamilies, TakeDelta) takes them a bounded chunk at a
// time and lets decisions in between, so no decision waits on a walk for more
// than one chunk (well under a millisecond), however many budgets and leases
// there are. Revocation listeners are called outside that mutex, on the
// thread whose call caused the revocation.
#ifndef SLUICE_SERVER_THROTTLE_THROTTLER_H_
#define SLUICE_SERVER_THROTTLE_THROTTLER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/throttle/budget.h"
#include "server/throttle/call_key.h"
#include "server/throttle/header_parser.h"
#include "server/throttle/problem_log.h"
#include "server/throttle/restriction.h"
#include "server/throttle/route_map.h"
#include "server/throttle/throttle_state.h"
#include "server/throttle/token_lease.h"

namespace sluice::throttle {

// Tokens ESI's floating window charges per response class.
struct EsiCostTable {
  int status_2xx = 2;
  int status_3xx = 1;
  int status_4xx = 5;
  int status_5xx = 0;
  // No HTTP answer: the call may still have been counted; assume the worst.
  int transport_failure = 5;

  int ForStatus(int status) const;
  int Max() const;
};

struct ThrottlerOptions {
  EsiCostTable esi_costs;
  // Units an ESI call holds in its group while in flight. 0 = the highest
  // cost in esi_costs, so however the calls in flight turn out, the group
  // never goes below what the next call needs. Lower it only if you accept
  // a 429 when several 4xx land together at the edge of the budget.
  int esi_reserve_cost = 0;
  // Units that must be left for ESI to admit a call. 0 = esi_costs.status_2xx.
  int esi_admission_cost = 0;

  // Conservative defaults for budgets not yet learned from headers.
  WindowLimit esi_default{150, std::chrono::minutes(15)};
  // Calls per window of an ungrouped ESI route, per caller; limit 0 = no cap
  // (only the error limit governs such routes, as on ESI).
  WindowLimit esi_ungrouped{0, std::chrono::seconds(1)};
  WindowLimit poe_default{5, std::chrono::seconds(10)};
  int esi_error_limit_default = 100;
  Duration esi_error_window = std::chrono::seconds(60);
  // Error units reserved per ESI call in flight (the worst case: it errors).
  int esi_error_reserve_per_call = 1;

  // Safety margin per budget: floor(limit * margin_fraction) + margin_units
  // units are never granted. The model is already an upper bound; the margin
  // covers what it cannot see (clock steps, upstream rounding). 1% keeps
  // utilisation >= 98% on every budget size.
  double margin_fraction = 0.01;
  int margin_units = 0;
  // Calls in flight allowed on a budget that has not been observed yet.
  int probe_calls = 1;

  // The leader epoch this throttler grants under (server/leader), 0 for
  // none: lease ids carry it, so that no two coordinators hand out the same
  // id (LeaseTable::FirstId).
  int64_t leader_epoch = 0;

  // Leases. ttl: how long granted calls may be started; short, so nothing
  // can be spent long past a restriction even if a revocation is lost.
  Duration lease_ttl = std::chrono::seconds(2);
  int max_lease_calls = 100;
  // A lease takes at most this share of any budget of its route (at least
  // one call), so one agent cannot starve the others.
  double max_lease_fraction = 0.25;
  // Longest an upstream call may take (the agents' HTTP timeout must not be
  // longer): an unreported call is assumed answered at expires_at + this.
  Duration max_request_duration = std::chrono::seconds(30);
  // Extra time for a lapsed lease's reports to arrive before it is charged.
  Duration report_grace = std::chrono::seconds(5);
  // Upper bound on the ReportBatch transit time, used with sent_age to bound
  // when a call was sent (only for attributing upstream counts).
  Duration transit_allowance = std::chrono::milliseconds(100);
  // Trust in agents' absolute observed_at when no response_age is given:
  // assumed off by at most this much.
  Duration agent_clock_skew = std::chrono::milliseconds(100);
  // Longest Acquire may reserve ahead.
  Duration max_acquire_wait = std::chrono::hours(1);

  // Write-ahead grant allowance (grant_allowance.h), kept while a
  // StatePersister writes the state. While it is kept, an Acquire reserves
  // at most this far ahead (a longer wait is refused with its time), so a
  // call granted under an allowance is answered by grant time +
  // write_ahead_max_wait + lease_ttl + max_request_duration.
  Duration write_ahead_max_wait = std::chrono::seconds(2);
  // How long after a takeover the old leader may still grant: it stops when
  // it loses its leadership, which a standby can take over only after it
  // expired; this covers a deposed leader that has not noticed yet. A restore
  // after a crash charges each row's allowance as answered this long after
  // the restore plus the answer time above.
  Duration takeover_grant_grace = std::chrono::seconds(5);
  // Persist intervals an allowance is sized for: the demand of the last
  // interval times this, at most the room the budget has by then.
  int write_ahead_intervals = 3;

  BackoffOptions backoff;
  // A restriction reported by a caller other than an agent (ReportOrigin)
  // ends within this, and never later than the longest restriction the
  // upstream has announced for the budget's family through an agent (at
  // least backoff.base): one forged Retry-After cannot hold a budget.
  Duration external_restriction_cap = std::chrono::minutes(15);
  // Answer for "when?" when only in-flight settlement can free room.
  Duration retry_hint = std::chrono::milliseconds(200);

  // Resolutions cached per (upstream, route, egress, caller); the cache is
  // emptied when it reaches this size.
  size_t max_routes = 200000;
  size_t max_budgets = 2000000;
  // A budget untouched this long is checked, and dropped if idle (nothing
  // reserved or spent still counting, no restriction to remember).
  Duration idle_check_after = std::chrono::seconds(60);
  uint64_t seed = 0;  // jitter RNG; 0 = random
};

// Response of an upstream call, as reported by an agent or another team.
struct Observation {
  CallKey key;
  int status = 0;  // HTTP status; 0 = transport failure
  HeaderList headers;
  int64_t lease_id = 0;  // 0 = not from a lease
  // Timing, best first. Ages are measured on the reporter's monotonic clock
  // at the moment the report was sent, so clock skew does not matter:
  // response_age = time since the response arrived, sent_age = since the
  // request was sent.
  std::optional<Duration> response_age;
  std::optional<Duration> sent_age;
  // Absolute response time on the reporter's clock (trusted within
  // agent_clock_skew) when no ages are given.
  std::optional<TimePoint> observed_at;
};

// Who reported an observation. Agents report under their token leases
// (ReportBatch) and are trusted; any other caller (the unary Report of other
// teams) is `caller` (its principal, or its peer address): what it teaches
// restricts a budget only within ThrottlerOptions::external_restriction_cap,
// and the restriction names it.
struct ReportOrigin {
  std::string caller;  // empty: an agent
  bool external() const { return !caller.empty(); }
};

// What ClearRestriction lifted.
struct ClearedRestriction {
  bool was_restricted = false;  // a restriction was in force
  TimePoint was_until;          // its end
  int was_level = 0;            // the escalated backoff level reset to 0
  std::string was_by;           // who had set it (empty: an agent)
  // Who had tightened the budget with headers, if that still held (empty:
  // nobody); lifted too.
  std::string was_tightened_by;
};

struct TokenReturn {
  int64_t lease_id = 0;
  int64_t unspent = 0;
};

struct PermitTime {
  TimePoint at;
  Duration wait{};  // at - now, >= 0
  std::string limiting_budget;
};

struct AcquireResult {
  bool granted = false;
  TimePoint at;  // granted: when to call (<= now + max_wait); refused: earliest
  Duration wait{};
  std::string limiting_budget;
  int64_t lease_id = 0;  // granted: pass it in the Report
  TimePoint expires_at;  // granted: call before this
};

struct LeaseGrant {
  int64_t lease_id = 0;  // 0 when nothing was granted
  int64_t granted = 0;
  TimePoint expires_at;
  Duration ttl{};
  TimePoint retry_at;  // granted == 0: earliest time to ask again
  std::string limiting_budget;
  // Whom the limiting budget bills ("ip:10.0.0.7", "char:1"; empty for a
  // route's own default): an address's budget says "not from here", a
  // caller's says "not for this caller", wherever it is tried.
  std::string limiting_scope;
  // The lease arms before use (granted == requested arm_before_use): the
  // holder must ArmTokens each token before its call.
  bool arm_before_use = false;
};

struct RevocationEvent {
  std::string budget;
  // (lease id, holder) of the leases revoked; may be empty.
  std::vector<std::pair<int64_t, std::string>> leases;
  TimePoint until;
  std::string reason;
};

struct WindowInfo {
  int64_t limit = 0;
  Duration period{};
  int64_t remaining = 0;  // units available now (local estimate, >= 0)
  Duration penalty{};
};

struct BudgetInfo {
  std::string name;
  std::string family;
  std::string scope;
  BudgetKind kind = BudgetKind::kEsiRoute;
  bool learned = false;
  bool observed = false;
  WindowInfo window;
  TimePoint restricted_until;  // epoch if never restricted
  std::string restriction_reason;
  // Who set the restriction's end (empty: the upstream through an agent) and
  // whether the external cap shortened it; the last operator clear.
  std::string restricted_by;
  bool restriction_capped = false;
  std::string restriction_cleared_by;
  TimePoint restriction_cleared_at;  // epoch if never cleared
  // Who tightened it with headers (not an agent), while that holds, and
  // until when at the latest (epoch if nobody).
  std::string tightened_by;
  TimePoint tightened_until;
  TimePoint next_permitted;  // for one call
  BudgetCounters counters;
  int64_t outstanding_calls = 0;
  int64_t outstanding_units = 0;
  std::vector<std::string> routes;
};

// What ListBudgetFamilies shows instead of every budget.
struct BudgetQuery {
  // Empty: every family. Otherwise families whose name starts with it, and
  // budgets whose name starts with it or whose scope equals it (one
  // character's or one address's budgets).
  std::string match;
  // Most constrained budgets listed per family (and matched budgets at most).
  int top = 5;
};

// A family's live budgets of one scope class (ScopeClass, route_map.h):
// what metrics show instead of one series per character or address.
struct ScopeAggregate {
  int64_t budgets = 0;
  int64_t restricted = 0;
  int64_t exhausted = 0;
  int64_t min_remaining = 0;  // units, of the budget with the fewest
  double min_room = 1;        // remaining / limit, lowest (0 if no limit)
  int64_t outstanding_calls = 0;
};

struct FamilyInfo {
  std::string name;
  BudgetKind kind = BudgetKind::kEsiRoute;
  int64_t budgets = 0;      // live budgets (callers / addresses) now
  int64_t restricted = 0;   // of which restricted now
  int64_t exhausted = 0;    // of which cannot take one call now
  // The same by scope class ("ip", "character", "account", "client",
  // "global"); only classes with live budgets.
  std::map<std::string, ScopeAggregate> by_scope;
  BudgetCounters counters;  // over every budget the family ever had
  std::vector<std::string> routes;
  // The `top` budgets with the least room (restricted first).
  std::vector<BudgetInfo> most_constrained;
};

struct BudgetListing {
  std::vector<FamilyInfo> families;  // by name
  std::vector<BudgetInfo> budgets;   // matches of query.match, most constrained first
  int64_t total_budgets = 0;
};

// A route -> group mapping from ESI's OpenAPI `x-rate-limit` (esi_openapi.h).
struct EsiRouteSeed {
  std::string route;
  std::string group;
  WindowLimit limit;
};

class Throttler {
 public:
  using RevocationListener = std::function<void(const RevocationEvent&)>;

  Throttler(const Clock* clock, ThrottlerOptions options);
  Throttler(const Throttler&) = delete;
  Throttler& operator=(const Throttler&) = delete;

  // When may n calls of `key` be made? Consumes nothing. The time assumes
  // nothing else is granted and calls in flight settle at their reserved
  // worst, so it can come earlier, never later for that reason. OUT_OF_RANGE
  // if n calls exceed what a budget of the route can ever grant at once.
  absl::StatusOr<PermitTime> NextPermitted(const CallKey& key, int n);

  // Grants all n calls if they are available by now + max_wait (reserving
  // them now for the time returned), or says when. Never partial.
  absl::StatusOr<AcquireResult> Acquire(const CallKey& key, int n, Duration max_wait,
                                        const std::string& caller);

  // Grants up to `count` calls now (possibly fewer: at most max_lease_calls
  // and max_lease_fraction of any budget; possibly none). With none,
  // retry_at is when to ask again: the window/restriction time, or
  // now + retry_hint when calls in flight may free room sooner. With
  // arm_before_use the holder promises to start no call on a token before
  // ArmTokens acknowledged it; in exchange the calls never armed stop
  // counting at expiry instead of lapsing as spent (token_lease.h).
  // `agent_instance` names the agent's process (empty: not said): the holder
  // of its calls that reserve an error limit (see ConfirmSettled).
  absl::StatusOr<LeaseGrant> LeaseTokens(const std::string& agent_id, const CallKey& key, int count,
                                         bool arm_before_use = false,
                                         const std::string& agent_instance = "");

  // Arms `count` more calls of an arming lease (at most up to its grant) and
  // returns how many are armed in all: the holder may start that many calls
  // (concurrent arms of one lease add up; over-arming only costs the holder's
  // own budget if it dies). NOT_FOUND for a closed or unknown lease;
  // FAILED_PRECONDITION if the lease is held by another agent, was not
  // granted with arm_before_use, was revoked, or has expired (at or after
  // expires_at on this clock); INVALID_ARGUMENT unless 1 <= count <= 1000.
  absl::StatusOr<int64_t> ArmTokens(const std::string& agent_id, int64_t lease_id, int count);

  // Feeds one upstream response into the budgets. (What a failed task's
  // response means for the task is the queue's RetryPolicy's call, not the
  // throttler's.) An external origin's restrictions are capped.
  absl::Status Report(const Observation& observation, const ReportOrigin& origin = {});

  // Lifts `budget`'s restriction and its escalated backoff (an operator's
  // call), recording `by`. NOT_FOUND if there is no such budget.
  absl::StatusOr<ClearedRestriction> ClearRestriction(const std::string& budget,
                                                      const std::string& by);

  // Observations first, then returns. Invalid entries are skipped (and logged
  // once).
  void ReportBatch(const std::string& agent_id, const std::vector<Observation>& observations,
                   const std::vector<TokenReturn>& returns);

  // Gives back unspent calls of a lease. NOT_FOUND if the lease is closed.
  absl::Status ReturnTokens(int64_t lease_id, int64_t unspent);

  // Every budget, sorted by name: O(budgets) under the lock at once, for
  // tests and tools. Listings for people and metrics use ListBudgetFamilies.
  std::vector<BudgetInfo> ListBudgets();
  // Budgets grouped by family (see BudgetQuery). Walks the budgets in chunks
  // (kWalkChunk, by name), releasing the lock between them: each budget is
  // read as of its own chunk, so a budget made or dropped during the walk may
  // or may not be counted.
  BudgetListing ListBudgetFamilies(const BudgetQuery& query);
  // Teaches route -> group mappings and group limits before any response
  // (a response's headers still win). Returns how many changed something.
  int SeedEsiRoutes(const std::vector<EsiRouteSeed>& seeds);
  // One event per budget restricted right now (lease lists empty): what a
  // newly connected watcher must know.
  std::vector<RevocationEvent> ActiveRestrictions();

  // Listener ids are > 0. Listeners run on the thread whose call caused the
  // revocation, outside the throttling mutex (they may call the Throttler's
  // other methods) but under the listener lock: they must not add or remove
  // listeners, and should be quick (they delay that caller). After
  // RemoveRevocationListener returns the listener is not running.
  int AddRevocationListener(RevocationListener listener);
  void RemoveRevocationListener(int id);

  // Persistence (see throttle_state.h). Snapshot is every budget (tests and
  // tools), copied in chunks by name with the lock released between them:
  // each row is exact as of its own written_at (what a restore reads), as the
  // rows the persister writes at different times are; a budget made or
  // dropped during the walk may or may not be in it. TakeDelta is what
  // changed since the previous TakeDelta, what StatePersister writes: at most
  // max_changes budgets (changed or dropped) per call, `more` set when some
  // are left, so the decision lock is held for a bounded time however many
  // budgets changed (the persister calls again until none are left). Neither
  // walks leases: a budget keeps what a row needs of them (in-flight counts,
  // latest answer time) as they are granted and settled. Restore replaces all
  // state and must run before the Throttler serves anything.
  ThrottleSnapshot Snapshot(bool clean_shutdown = false);
  ThrottleDelta TakeDelta(size_t max_changes = std::numeric_limits<size_t>::max());
  absl::Status Restore(const ThrottleSnapshot& snapshot);
  // The write-ahead grant allowance (grant_allowance.h): once enabled (by the
  // persister, before anything is served; `interval` is how often it
  // writes), every row TakeDelta returns for a window budget or an error
  // limit carries an allowance, and grants from a budget stay within the
  // allowance of its rows until CommitAllowances confirms the newest one (in
  // chunks, like a walk). Budgets existing at enabling may grant nothing
  // until their first row commits.
  void EnableWriteAhead(Duration interval);
  void CommitAllowances(const std::vector<AllowanceCommit>& commits);

  // Settling a takeover's error-limit charge (throttle_takeover.cc; README,
  // "Persistence"). Each restore takes a newer incarnation, sent with every
  // lease. Under the write-ahead allowance a call that reserves an ESI error
  // limit is granted to a holder named in the last committed meta row and
  // in every one taken since ("agent:<id>" for LeaseTokens, "caller:<name>"
  // for Acquire); another holder is named in the next row, and until a row
  // commits, holders not named get at most `probe_calls` calls of each
  // address between two commits (so at most twice that after any row).
  // So the row a takeover reads names everyone who may hold more than
  // those few of the old leader's error-limit calls, and once each has said
  // every call it started under an older incarnation's lease is answered
  // (ConfirmSettled), the charge's errors are known, but for those few.
  struct ErrorLimitHolders {
    uint64_t incarnation = 0;
    std::vector<std::string> holders;  // sorted
  };
  // The set for the meta row about to be written (taken before its budget
  // rows, so a lease closed before it is in them): holders whose last grant
  // could still be unanswered, and those asking. From now on only holders
  // in it are granted, until a commit says otherwise.
  ErrorLimitHolders TakeErrorLimitHolders();
  // The meta row naming `holders` committed: they alone may be granted.
  void CommitErrorLimitHolders(const std::vector<std::string>& holders);
  // Agent `agent_id` has answered and reported every call it started under a
  // lease of an incarnation before `settled_before` (ReportBatchRequest),
  // and may list every error response it had for calls answered within
  // `errors_cover` (route with egress, status, sent_age, response_age).
  // With every holder's list covering the time since an address's row was
  // taken (less the longest a call can stay unreported, TakeoverAnswerTime),
  // those errors replace the address's charge; without, the charge counts
  // as answered now.
  struct SettledReport {
    uint64_t settled_before = 0;
    std::string instance;  // LeaseTokens' agent_instance
    std::optional<Duration> errors_cover;
    // The list holds every error of the process since it started (honoured
    // only with an instance: another process of the id is another holder).
    bool errors_since_start = false;
    std::vector<Observation> errors;
  };
  void ConfirmSettled(const std::string& agent_id, const SettledReport& report);
  uint64_t incarnation() const { return incarnation_.load(std::memory_order_relaxed); }
  struct TakeoverSettlement {
    bool pending = false;              // an unclean restore waits for confirmations
    std::vector<std::string> waiting;  // holders not confirmed yet
    std::optional<TimePoint> settled_at;
    int64_t replaced = 0;  // charges replaced by the errors the holders listed
    int64_t answered = 0;  // charges only counted as answered at settled_at
  };
  TakeoverSettlement takeover_settlement();
  bool write_ahead() const { return write_ahead_.load(std::memory_order_relaxed); }
  size_t budget_count();
  // Increases on every state change; the persister writes when it moved.
  uint64_t change_count() const { return changes_.load(std::memory_order_relaxed); }

  // The longest the decision lock was held at once by a chunk of a walk or
  // of TakeDelta since the previous call (which resets it), on the wall clock
  // and in the holding thread's CPU time (the wall time also counts the
  // holder being descheduled on a busy machine). For benchmarks and tests.
  struct LockHold {
    Duration wall{};
    Duration cpu{};
  };
  LockHold TakeLongestHold();

  const ThrottlerOptions& options() const { return options_; }
  const Clock* clock() const { return clock_; }
  // Malformed/unknown values seen so far (each logged once).
  int64_t problems() const { return problems_.total(); }

 private:
  struct ResolvedRoute {
    uint64_t generation = 0;
    uint64_t budget_epoch = 0;
    std::string label;
    std::vector<LeaseUse> uses;
  };
  using Revocations = std::vector<RevocationEvent>;

  // The decision lock. A std::mutex lets the thread that just released it
  // take it again before a waiting thread wakes up, so a walk releasing it
  // between chunks could still keep decisions out for many chunks in a row:
  // a walk calls LetWaitersIn() before each further chunk, which waits
  // (at most kMaxLetIn) until the threads waiting for the lock then are in.
  class DecisionMutex {
   public:
    void lock() {
      waiting_.fetch_add(1, std::memory_order_relaxed);
      mu_.lock();
      waiting_.fetch_sub(1, std::memory_order_relaxed);
    }
    void unlock() { mu_.unlock(); }
    // Call without holding the lock.
    void LetWaitersIn();

   private:
    std::mutex mu_;
    std::atomic<int> waiting_{0};
  };

  // Budgets a walk copies per hold of mu_: Snapshot's rows cost a few
  // microseconds each (ledgers, strings), a listing's about one.
  static constexpr size_t kSnapshotChunk = 64;
  static constexpr size_t kListChunk = 256;
  // A chunk also ends once it has held mu_ this long.
  static constexpr std::chrono::microseconds kMaxChunkHold{200};

  // Calls visit(Budget*, now) for every budget in name order, at most `chunk`
  // (and about kMaxChunkHold) per hold of mu_ (now read at each hold), and
  // then last(now) under the
  // hold of the last chunk. Requires mu_ NOT held.
  template <typename Visit, typename Last>
  void WalkBudgets(size_t chunk, Visit&& visit, Last&& last) {
    std::string after;
    bool first = true;
    while (true) {
      if (!first) mu_.LetWaitersIn();
      std::lock_guard<DecisionMutex> lock(mu_);
      HoldTimer hold(this);
      const TimePoint now = clock_->Now();
      auto it = first ? budgets_.begin() : budgets_.upper_bound(after);
      first = false;
      const auto deadline = std::chrono::steady_clock::now() + kMaxChunkHold;
      for (size_t n = 0; it != budgets_.end() && n < chunk; ++it, ++n) {
        visit(it->second.get(), now);
        // Budgets that catch up on lazy work (expiring ledgers) cost more:
        // the time bounds a chunk too.
        if ((n & 15) == 15 && std::chrono::steady_clock::now() >= deadline) {
          ++it;
          break;
        }
      }
      if (it == budgets_.end()) {
        last(now);
        return;
      }
      after = std::prev(it)->first;
    }
  }

  // Times one chunk's hold of mu_ (construct right after locking) into
  // longest_hold_ns_ / longest_hold_cpu_ns_.
  class HoldTimer {
   public:
    explicit HoldTimer(Throttler* t);
    ~HoldTimer();

   private:
    Throttler* t_;
    int64_t wall_ns_;
    int64_t cpu_ns_;
  };

  // All *Locked methods require mu_.
  void ProcessDueLocked(TimePoint now);
  // The pointer is valid until the next ResolveLocked call.
  absl::StatusOr<ResolvedRoute*> ResolveLocked(const CallKey& key);
  absl::StatusOr<Budget*> BudgetForSpecLocked(const BudgetSpec& spec, TimePoint now);
  BudgetFamily* FamilyLocked(const std::string& name, BudgetKind kind);
  // A budget was used or changed: persist it, keep it off the idle list.
  void TouchLocked(Budget* budget, TimePoint now);
  // Checks budgets untouched for idle_check_after; drops idle ones.
  void SweepIdleLocked(TimePoint now, size_t max_checks);
  void DropLocked(Budget* budget);
  void AttachLeaseLocked(Lease* lease);
  void EraseLeaseLocked(Lease* lease);
  BudgetInfo InfoLocked(Budget* b, TimePoint now);
  // Persistence (throttle_persistence.cc).
  BudgetState StateLocked(const Budget& b, TimePoint now) const;
  RouteMapState MapStateLocked() const;
  CallCost CostFor(BudgetKind kind) const;
  int64_t MarginFor(int64_t limit) const;
  int64_t ActualUnits(const Budget& budget, int status) const;

  int64_t GrantableLocked(const std::vector<LeaseUse>& uses, int64_t want, TimePoint now,
                          Budget** limiting);
  // Whether the write-ahead allowance applies to the budget, and the
  // allowance a row taken now gives it.
  bool AllowanceAppliesLocked(const Budget& b) const {
    return write_ahead_.load(std::memory_order_relaxed) &&
           (b.window() != nullptr || b.is_error_limit());
  }
  // How long after a restore a call the old leader granted may still be
  // answered: what a takeover charges is spent until then.
  Duration TakeoverAnswerTime() const {
    return options_.takeover_grant_grace + options_.write_ahead_max_wait + options_.lease_ttl +
           options_.max_request_duration;
  }
  // A budget made new after an unclean restore may have been probed by the
  // old leader since its last committed write (it had no row then): charge
  // that probe, as answered as late as the old leader's calls can be.
  void ChargeTakeoverProbeLocked(Budget* b, TimePoint now);
  static std::string AgentHolder(const std::string& agent_id, const std::string& instance) {
    return instance.empty() ? "agent:" + agent_id : "agent:" + agent_id + "/" + instance;
  }
  static std::string CallerHolder(const std::string& caller) { return "caller:" + caller; }
  // How many of `route`'s calls `holder` may be granted now: all when no
  // budget of the route is an error limit or a committed row names the
  // holder; otherwise what is left of the calls for holders not named (and
  // the holder is asked for in the next row). *unnamed says which.
  // `holder` makes the holder's name, only for routes that need it (most
  // decisions are on routes without an error limit).
  int64_t HolderLimitLocked(const ResolvedRoute& route, absl::FunctionRef<std::string()> holder,
                            TimePoint now, bool* unnamed);
  // `calls` were granted to a holder not named.
  void GrantedUnnamedLocked(const ResolvedRoute& route, int64_t calls);
  // Calls of an error limit holders not named may have between two commits.
  int64_t UnnamedCalls() const { return std::max(1, options_.probe_calls); }
  // Every expected holder confirmed: the charges were answered by `now`.
  void SettleTakeoverLocked(TimePoint now);
  // `retry_at` of a refusal, or sooner while `route` is held by a takeover's
  // error-limit charge that the holders' confirmations may end any moment:
  // a caller told to come back when the charge would end by itself (up to
  // 100 s) would wait that long after it ended (an agent stops leasing
  // tasks of the route until then).
  TimePoint SettlingRetryLocked(const ResolvedRoute& route, TimePoint retry_at, TimePoint now);
  int64_t SizeAllowanceLocked(Budget* b, TimePoint now) const;
  // A call of `lease` needs `units` less in `use`'s budget than it reserved.
  static void RefundLocked(const Lease& lease, const LeaseUse& use, int64_t units) {
    use.budget->allowance().Refund(lease.grant_seq, units);
  }
  // What a budget without a row of ours may grant: one probe's worst cost.
  int64_t ProbeAllowance(const Budget& b) const;
  // Latest over the uses; *firm is false when the time is only a hint.
  TimePoint NextTimeLocked(const std::vector<LeaseUse>& uses, int64_t calls, TimePoint now,
                           Budget** limiting, bool* firm);
  absl::Status CheckCapacityLocked(const std::vector<LeaseUse>& uses, int64_t calls);
  Lease* GrantLocked(const CallKey& key, const std::string& holder, ResolvedRoute* route,
                     int64_t calls, TimePoint usable_from, TimePoint now, bool arming = false);

  void ObserveLocked(const Observation& o, const ReportOrigin& origin, TimePoint now,
                     Revocations* revocations);
  SpendTiming TimingLocked(const Observation& o, const Lease* lease, TimePoint now) const;
  // What the headers teach of routes and limits; `origin` external: only
  // what is not known yet.
  bool LearnLocked(const CallKey& key, const ParsedHeaders& headers, int status,
                   const ReportOrigin& origin);
  void RechargeLeasesLocked(const CallKey& key);
  void SettleUseLocked(const LeaseUse& use, int status, const SpendTiming& timing, TimePoint now);
  void ChargeUseLocked(const LeaseUse& use, int status, const SpendTiming& timing, TimePoint now);
  void CorrectLocked(const Observation& o, const ReportOrigin& origin, const ParsedHeaders& headers,
                     const std::vector<LeaseUse>& uses, const std::string& label,
                     const SpendTiming& timing, TimePoint now, Revocations* revocations);
  // `origin` external: capped (ExternalCapLocked), attributed, no escalation.
  void RestrictLocked(Budget* budget, TimePoint floor, const std::string& reason,
                      const ReportOrigin& origin, TimePoint now, Revocations* revocations);
  // The latest end a caller other than an agent may give `budget`'s
  // restriction: now + min(external_restriction_cap, the longest restriction
  // the upstream announced for its family through an agent, at least the
  // base backoff).
  TimePoint ExternalCapLocked(const Budget& budget, TimePoint now) const;
  // The upstream counted `used` units of `b`'s window as of the report's
  // call: an agent's report corrects the window, another caller's is held
  // apart until the cap and named (FloatingWindow::ApplyExternalUsed).
  void ApplyUsedLocked(Budget* b, int64_t used, const ReportOrigin& origin,
                       const SpendTiming& timing, TimePoint now);
  // An arming lease reached expires_at: releases what was never armed.
  void ReleaseUnarmedLocked(Lease* lease, TimePoint now);
  void LapseLocked(Lease* lease, TimePoint now);
  void CloseIfDoneLocked(Lease* lease);
  Budget* FindBudgetLocked(const std::string& name);

  void Changed() { changes_.fetch_add(1, std::memory_order_relaxed); }
  void Publish(const Revocations& revocations);

  const Clock* const clock_;
  const ThrottlerOptions options_;
  ProblemLog problems_;
  std::atomic<uint64_t> changes_{0};
  std::atomic<int64_t> longest_hold_ns_{0};
  std::atomic<int64_t> longest_hold_cpu_ns_{0};

  DecisionMutex mu_;
  // Everything below up to listeners_mu_ is guarded by mu_.
  RouteMap route_map_;
  // Ordered by name, so a walk in chunks resumes after the last name it saw
  // (upper_bound) whatever was made or dropped meanwhile; lookups by name are
  // only for budgets not yet in a cached resolution.
  absl::btree_map<std::string, std::unique_ptr<Budget>> budgets_;
  std::unordered_map<std::string, BudgetFamily> families_;  // nodes are stable
  std::unordered_map<std::string, ResolvedRoute> routes_;
  // Bumped when a budget is dropped: cached resolutions may point at it.
  uint64_t budget_epoch_ = 1;
  // Budgets by last touch, oldest first (idle sweeps take from the front).
  std::list<Budget*> lru_;
  TimePoint next_sweep_{};
  // Budgets that may be restricted now (pruned lazily).
  std::unordered_set<Budget*> restricted_;
  // Persistence bookkeeping for TakeDelta.
  std::vector<std::string> dirty_names_;
  std::vector<std::string> dropped_names_;
  LeaseTable leases_;
  // Write-ahead allowance: on, and the persist interval (guarded by mu_;
  // the flag is also read without it).
  std::atomic<bool> write_ahead_{false};
  Duration write_ahead_interval_{std::chrono::milliseconds(500)};
  uint64_t next_serial_ = 1;
  uint64_t grant_seq_ = 0;
  // Set by an unclean Restore: when the state read was written, and by when
  // every call the old leader may have granted since has been answered
  // (ChargeTakeoverProbeLocked).
  std::optional<SpendTiming> takeover_probe_;
  // Takeover settlement (TakeErrorLimitHolders and neighbours).
  std::atomic<uint64_t> incarnation_{1};
  // Holders that may be named in the next row -> their last grant (or ask).
  std::map<std::string, TimePoint> error_holders_;
  // Named in the last committed row and every row taken since.
  std::unordered_set<std::string> error_holders_grantable_;
  // Calls of each error limit granted to holders not named, since the last
  // commit of a meta row.
  std::unordered_map<std::string, int64_t> unnamed_granted_;
  // After an unclean restore from a row naming its holders: those still to
  // confirm, and each error limit's charge (budget, answer time charged).
  std::optional<std::unordered_set<std::string>> takeover_waiting_;
  struct TakeoverCharge {
    std::string budget;
    std::string scope;   // "ip:<egress>"
    TimePoint row_time;  // when the row it was charged from was taken
  };
  std::vector<TakeoverCharge> takeover_charges_;
  // What each holder confirmed: from when its list of errors is complete
  // (nullopt: no list), and the errors (ESI, by address scope).
  struct HolderConfirmation {
    std::optional<TimePoint> errors_from;
    std::vector<std::pair<std::string, SpendTiming>> errors;
    std::vector<int> statuses;  // of each error
  };
  std::map<std::string, HolderConfirmation> takeover_confirmed_;
  std::optional<TimePoint> takeover_settled_at_;
  int64_t takeover_replaced_ = 0;
  int64_t takeover_answered_ = 0;
  std::mt19937_64 rng_;
  std::string scratch_key_;

  std::mutex listeners_mu_;
  std::map<int, RevocationListener> listeners_;  // guarded by listeners_mu_
  int next_listener_id_ = 1;                     // guarded by listeners_mu_
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_THROTTLER_H_
