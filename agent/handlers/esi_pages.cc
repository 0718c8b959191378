#include "agent/handlers/esi_pages.h"

#include "agent/http/header_map.h"

namespace sluice::agent::esi {

absl::Status PageVersion::Check(int page, const HttpResponse& response) {
  const std::string last_modified = response.headers.GetOr("Last-Modified");
  if (first_page_ == 0) {
    first_page_ = page;
    first_last_modified_ = last_modified;
    first_expires_ = response.headers.GetDate("Expires");
    return absl::OkStatus();
  }
  if (last_modified.empty() || first_last_modified_.empty() ||
      last_modified == first_last_modified_) {
    return absl::OkStatus();
  }
  const std::optional<TimePoint> date = response.headers.GetDate("Date");
  first_page_expired_ = first_expires_.has_value() && date.has_value() && *first_expires_ <= *date;
  return absl::AbortedError(absl::StrCat(
      what_, ": inconsistent paged read: page ", page, " has Last-Modified '", last_modified,
      "', page ", first_page_, " had '", first_last_modified_, "' (the list changed mid-read)"));
}

}  // namespace sluice::agent::esi
