# Writes a C++ file holding the dashboard's files (server/ops/dashboard_assets.h),
# run by CMake in script mode: -DOUT=<file.cc> -DDIR=<server/ops/web>
# -DCSS=<the stylesheet to embed>.
set(body "#include \"server/ops/dashboard_assets.h\"\n\nnamespace sluice {\n\nconst std::vector<DashboardAsset>& DashboardAssets() {\n  static const std::vector<DashboardAsset>* kAssets = new std::vector<DashboardAsset>{\n")
function(embed path file_path type)
  file(READ ${file_path} text)
  string(FIND "${text}" ")sluiceweb\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file_path} holds the raw-string delimiter )sluiceweb\"")
  endif()
  string(APPEND body "      {\"${path}\", \"${type}; charset=utf-8\", R\"sluiceweb(${text})sluiceweb\"},\n")
  set(body "${body}" PARENT_SCOPE)
endfunction()
embed("/" ${DIR}/index.html "text/html")
embed("/dashboard.js" ${DIR}/dashboard.js "text/javascript")
embed("/dashboard.css" ${CSS} "text/css")
string(APPEND body "  };\n  return *kAssets;\n}\n\n}  // namespace sluice\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
