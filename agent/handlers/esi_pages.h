// ESI's paged lists (X-Pages): every page of one read must come from the same
// version of the list. ESI caches each page; when the list's cache is rebuilt
// between two pages, the later pages carry another Last-Modified and the read
// mixes two versions: duplicates, or entries skipped at a page boundary
// (developers.eveonline.com/docs/services/esi/pagination/x-pages/, "Caching
// considerations"). Such a read is done again from page 1, but only once
// page 1's own Expires has passed: asking for it sooner is circumventing the
// cache (developers.eveonline.com/docs/services/esi/best-practices/).
//
// A handler's page loop reports every answer to a PageVersion;
// ReadPagesConsistently runs the loop, and once more from page 1 when a page
// disagreed and page 1 may be asked for again. A read that still disagrees,
// or may not be redone yet, is ABORTED ("inconsistent paged read ..."): the
// core fails the task as retryable, after every page's Expires, never as a
// poison body (agent/core/outcome.h).
//
// Thread-safety: a PageVersion belongs to one read on one thread.
#ifndef SLUICE_AGENT_HANDLERS_ESI_PAGES_H_
#define SLUICE_AGENT_HANDLERS_ESI_PAGES_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/http/upstream_client.h"
#include "common/clock.h"

namespace sluice::agent::esi {

class PageVersion {
 public:
  explicit PageVersion(std::string what) : what_(std::move(what)) {}

  // OK when `response` (page `page`, a 2xx or 304) carries the Last-Modified
  // of the first page checked, or none (a 304 may leave it out); otherwise
  // ABORTED naming both values.
  absl::Status Check(int page, const HttpResponse& response);

  // After Check refused a page: whether the first page's Expires is past by
  // the refused answer's Date, so asking for page 1 again is within ESI's
  // rules. False when either header is missing.
  bool FirstPageMayBeAskedAgain() const { return first_page_expired_; }

 private:
  std::string what_;
  int first_page_ = 0;
  std::string first_last_modified_;
  std::optional<TimePoint> first_expires_;
  bool first_page_expired_ = false;
};

// Runs `pass` (one read of the pages, reporting each answer to the
// PageVersion it is given and returning Check's error as is), and once more
// with a fresh PageVersion when the first pass's pages disagreed and page 1
// may be asked for again. The second pass's disagreement, or the first's when
// page 1 may not be asked for yet, is returned: ABORTED.
template <typename Result>
absl::StatusOr<Result> ReadPagesConsistently(
    absl::string_view what, const std::function<absl::StatusOr<Result>(PageVersion&)>& pass) {
  PageVersion first{std::string(what)};
  absl::StatusOr<Result> result = pass(first);
  if (result.ok() || !absl::IsAborted(result.status())) return result;
  if (!first.FirstPageMayBeAskedAgain()) return result;
  PageVersion second{std::string(what)};
  result = pass(second);
  if (!result.ok() && absl::IsAborted(result.status())) {
    return absl::AbortedError(absl::StrCat(result.status().message(), " (read twice)"));
  }
  return result;
}

}  // namespace sluice::agent::esi

#endif  // SLUICE_AGENT_HANDLERS_ESI_PAGES_H_
