# cairnd and the cairn CLI in a small Debian image.
#   docker build -t cairn .
#
# The Swift image must be at least the Swift the package needs: Package.swift says 6.2
# (Task.immediate, NonisolatedNonsendingByDefault); this pins 6.3.1, the compiler CI uses.
FROM swift:6.3.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# Every target of Package.swift must have its folder, even those this build does not compile.
COPY Tests ./Tests
COPY Examples ./Examples
RUN swift build -c release --static-swift-stdlib --product cairnd \
 && swift build -c release --static-swift-stdlib --product cairn \
 && cp "$(swift build -c release --show-bin-path)/cairnd" "$(swift build -c release --show-bin-path)/cairn" /usr/local/bin/

FROM debian:bookworm-slim
# A fixed uid/gid 10001, so that a secret file on the host can be made readable by this user
# without being readable by everyone (chgrp 10001 and chmod 640; see docs/security.md, "Secret
# files in a container").
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis0.14 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cairn \
 && useradd --system --uid 10001 --gid cairn --home-dir /var/lib/cairn --create-home cairn
COPY --from=build /usr/local/bin/cairnd /usr/local/bin/cairn /usr/local/bin/
USER cairn
WORKDIR /var/lib/cairn
ENV CAIRN_LISTEN=0.0.0.0:7420 CAIRN_METRICS_LISTEN=0.0.0.0:9420
EXPOSE 7420 9420
# Readiness, not liveness: unhealthy while Redis does not answer or the change feed is not
# listening (GET /health/ready on the metrics listener; `cairn ping` would pass with Redis down).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["cairn", "health", "--metrics-url", "http://127.0.0.1:9420", "--timeout", "2.5"]
ENTRYPOINT ["cairnd"]
