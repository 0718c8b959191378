# One image for every Sluice component: sluice-coordinator, sluice-agent, sluicectl and
# sluice-upstream-sim in /usr/local/bin. The Helm chart (charts/sluice) picks the command.
#
#   docker build -t sluice:0.1.0 .
#   docker run --rm sluice:0.1.0 sluicectl --help

# ---- build ----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
# scripts/deps.sh's packages, less those only the tests, the demo and CI use
# (libgtest-dev, libgmock-dev, postgresql, python3, curl, procps, git).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto \
      libpqxx-dev libgoogle-glog-dev libgflags-dev \
      libcurl4-openssl-dev nlohmann-json3-dev libcpp-httplib-dev libsodium-dev prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF \
 && cmake --build build -j"$(nproc)" --target sluice-coordinator sluice-agent sluicectl sluice-upstream-sim \
 && mkdir /out \
 && cp build/server/sluice-coordinator build/agent/sluice-agent build/client/sluicectl \
       build/sim/sluice-upstream-sim /out/ \
 && strip --strip-unneeded /out/*

# ---- runtime --------------------------------------------------------------------------------
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# Only the shared libraries the binaries load (their dependencies come along), and CA
# certificates for the agents' HTTPS calls to the upstream APIs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libpqxx-6.4 libgoogle-glog0v6 libgflags2.2 \
      libcurl4 libcpp-httplib0.11 libsodium23 libprometheus-cpp-core1.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 sluice \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sluice
COPY --from=build /out/ /usr/local/bin/
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 50051
# Configuration is by environment (README "Configuration"); the chart sets the command.
CMD ["sluice-coordinator"]
