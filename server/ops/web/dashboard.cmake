# The dashboard's page, script and stylesheet, embedded into sluice_server
# (server/ops/dashboard_assets.h). Included by server/CMakeLists.txt after
# sluice_server is defined.
#
# The stylesheet is Tailwind CSS compiled by npm's @tailwindcss/cli (version
# pinned by package-lock.json). By default the build embeds the compiled copy
# checked in beside the page (dashboard.css), so building the coordinator needs
# neither Node.js nor the network (README: "Dashboard"); the test
# DashboardCssIsFresh compiles it again and fails when the copy differs. With
# -DSLUICE_TAILWIND=ON the build compiles it itself (build_css.sh, npm ci into
# the build tree on the first build) and embeds that output instead.
option(SLUICE_TAILWIND "compile the dashboard's CSS with @tailwindcss/cli during the build" OFF)

set(SLUICE_WEB_DIR ${PROJECT_SOURCE_DIR}/server/ops/web)
set(SLUICE_WEB_SOURCES ${SLUICE_WEB_DIR}/index.html ${SLUICE_WEB_DIR}/dashboard.js)
if(SLUICE_TAILWIND)
  set(SLUICE_DASHBOARD_CSS ${CMAKE_BINARY_DIR}/dashboard/dashboard.css)
  add_custom_command(
    OUTPUT ${SLUICE_DASHBOARD_CSS}
    COMMAND ${SLUICE_WEB_DIR}/build_css.sh ${SLUICE_DASHBOARD_CSS} ${CMAKE_BINARY_DIR}/tools/tailwind
    DEPENDS ${SLUICE_WEB_SOURCES} ${SLUICE_WEB_DIR}/tailwind.css ${SLUICE_WEB_DIR}/package.json
            ${SLUICE_WEB_DIR}/package-lock.json ${SLUICE_WEB_DIR}/build_css.sh
    COMMENT "compiling the dashboard's CSS with @tailwindcss/cli")
else()
  set(SLUICE_DASHBOARD_CSS ${SLUICE_WEB_DIR}/dashboard.css)
endif()

set(SLUICE_DASHBOARD_ASSETS ${CMAKE_BINARY_DIR}/dashboard/dashboard_assets.cc)
add_custom_command(
  OUTPUT ${SLUICE_DASHBOARD_ASSETS}
  COMMAND ${CMAKE_COMMAND} -DOUT=${SLUICE_DASHBOARD_ASSETS} -DDIR=${SLUICE_WEB_DIR}
          -DCSS=${SLUICE_DASHBOARD_CSS} -P ${SLUICE_WEB_DIR}/embed_web.cmake
  DEPENDS ${SLUICE_WEB_SOURCES} ${SLUICE_DASHBOARD_CSS} ${SLUICE_WEB_DIR}/embed_web.cmake
  COMMENT "embedding the dashboard")
target_sources(sluice_server PRIVATE ${SLUICE_DASHBOARD_ASSETS})
