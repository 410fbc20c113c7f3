# syntax=docker/dockerfile:1
# cachesrv: multi-stage build of a static binary into a small non-root image.
# (No Docker engine exists on the development machines: this file is written
# carefully but cannot be built there; see README.)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/cachesrv/cachesrv/internal/app.Version=${VERSION}" \
      -o /out/cachesrv ./cmd/cachesrv

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cachesrv /usr/local/bin/cachesrv
# In a container the server must listen on all interfaces; protected mode
# still refuses a public bind without a password unless told otherwise, so
# set CACHESRV_REQUIREPASS (or CACHESRV_PROTECTED_MODE=no on a private network).
ENV CACHESRV_BIND=0.0.0.0 \
    CACHESRV_METRICS_ADDR=0.0.0.0:9379 \
    CACHESRV_LOG_FORMAT=json
EXPOSE 6379 9379
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/cachesrv"]
