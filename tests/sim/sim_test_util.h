// Test fixture: a Simulator on an ephemeral loopback port driven by a
// FakeClock, and an httplib client that talks to it over real HTTP.
#ifndef SLUICE_TESTS_SIM_SIM_TEST_UTIL_H_
#define SLUICE_TESTS_SIM_SIM_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "common/clock.h"
#include "sim/simulator.h"

namespace sluice::sim::testing {

inline constexpr char kUserAgent[] = "sluice-sim-test/0.1 (tests@example.com)";

class SimTest : public ::testing::Test {
 protected:
  // 2026-01-01T00:00:00Z: a whole hour, so PoE exchange math is easy to read.
  SimTest() : clock_(FromUnixSeconds(1767225600)) {}

  // A config with no limits at all; tests switch on what they exercise.
  static SimConfig Unlimited() {
    SimConfig c;
    c.threads = 4;
    c.esi_groups.clear();
    c.poe_stash_rules.clear();
    c.poe_exchange_rules.clear();
    return c;
  }

  void StartSim(const SimConfig& config) {
    sim_ = std::make_unique<Simulator>(config, &clock_);
    absl::StatusOr<int> port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
    client_->set_connection_timeout(5);
    client_->set_read_timeout(10);
  }

  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    if (headers.find("User-Agent") == headers.end()) headers.emplace("User-Agent", kUserAgent);
    return client_->Get(path.c_str(), headers);
  }

  httplib::Result Post(const std::string& path, const std::string& body) {
    return client_->Post(path.c_str(), httplib::Headers{{"User-Agent", kUserAgent}}, body,
                         "application/json");
  }

  nlohmann::json GetJson(const std::string& path) {
    httplib::Result r = Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return nlohmann::json::parse(r->body);
  }

  nlohmann::json StatsJson() { return nlohmann::json::parse(Get("/sim/stats")->body); }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace sluice::sim::testing

#endif  // SLUICE_TESTS_SIM_SIM_TEST_UTIL_H_
