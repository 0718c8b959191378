// The dashboard's files (server/ops/web/: index.html, dashboard.js and the
// Tailwind-compiled dashboard.css), embedded into the binary at build time by
// server/ops/web/embed_web.cmake, so the ops listener serves them with nothing
// beside the binary and nothing fetched from elsewhere.
//
// Thread-safety: immutable data.
#ifndef SLUICE_SERVER_OPS_DASHBOARD_ASSETS_H_
#define SLUICE_SERVER_OPS_DASHBOARD_ASSETS_H_

#include <string>
#include <vector>

namespace sluice {

struct DashboardAsset {
  std::string path;  // served at this path ("/" for index.html)
  std::string content_type;
  std::string body;
};

const std::vector<DashboardAsset>& DashboardAssets();

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_DASHBOARD_ASSETS_H_
