// Loopback ports for tests that need an address nothing answers on yet (a
// server started later, a client that must find nobody there).
#ifndef SLUICE_TESTS_SUPPORT_PORTS_H_
#define SLUICE_TESTS_SUPPORT_PORTS_H_

namespace sluice::testing {

// A port on 127.0.0.1 nothing listens on right now: the kernel's pick, bound
// and released. Another process could take it in between; tests use it at
// once.
int UnusedLoopbackPort();

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_PORTS_H_
