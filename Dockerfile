# cairnd and the cairn CLI in a small Debian image.
#   docker build -t cairn .
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product cairnd \
 && swift build -c release --static-swift-stdlib --product cairn \
 && cp "$(swift build -c release --show-bin-path)/cairnd" "$(swift build -c release --show-bin-path)/cairn" /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis0.14 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/cairn cairn
COPY --from=build /usr/local/bin/cairnd /usr/local/bin/cairn /usr/local/bin/
USER cairn
ENV CAIRN_LISTEN=0.0.0.0:7420 CAIRN_METRICS_LISTEN=0.0.0.0:9420
EXPOSE 7420 9420
HEALTHCHECK --interval=10s --timeout=3s CMD ["cairn", "ping", "--url", "cairn://127.0.0.1:7420"]
ENTRYPOINT ["cairnd"]
