// Build identity, used in User-Agent headers and logs.
#ifndef SLUICE_COMMON_VERSION_H_
#define SLUICE_COMMON_VERSION_H_

namespace sluice {
inline constexpr const char kVersion[] = SLUICE_VERSION;
}  // namespace sluice

#endif  // SLUICE_COMMON_VERSION_H_
