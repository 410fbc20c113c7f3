# cachesrv — the Makefile is CI's vocabulary.
GO        ?= go
BIN       ?= bin/cachesrv
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/cachesrv/cachesrv/internal/app.Version=$(VERSION)
STATICCHECK_VERSION ?= v0.8.2
GOLANGCI_VERSION    ?= v2.15.0
TRACES    ?= ../shared/traces
FUZZTIME  ?= 10s

.PHONY: all build run test test-loops-off race vet fmt-check tidy-check lint lint-deps staticcheck fuzz-smoke fuzz bench bench-compare hitratio hitratio-e2e rules-check ci clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cachesrv

## run: start the server on embedded defaults (127.0.0.1:6379, metrics on 127.0.0.1:9379)
run: build
	./$(BIN)

## test: every test (unit + integration). Tests that need redis-cli skip loudly without it.
test:
	$(GO) test -count=1 ./...

## test-loops-off: the integration suite again with event-loops off (a goroutine per client);
## plain `make test` runs it on the default event loops.
test-loops-off:
	CACHESRV_TEST_EVENT_LOOPS=off $(GO) test -count=1 ./test/integration/

race:
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

tidy-check:
	@cp go.mod /tmp/go.mod.bak; cp go.sum /tmp/go.sum.bak; $(GO) mod tidy; \
	if ! diff -q go.mod /tmp/go.mod.bak >/dev/null || ! diff -q go.sum /tmp/go.sum.bak >/dev/null; then \
	  echo "go mod tidy changes go.mod/go.sum"; cp /tmp/go.mod.bak go.mod; cp /tmp/go.sum.bak go.sum; exit 1; fi

staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

## lint-deps: the import rules of the architecture (.golangci.yml, depguard)
lint-deps:
	@command -v golangci-lint >/dev/null 2>&1 || test -x "$$($(GO) env GOPATH)/bin/golangci-lint" || \
	  $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" golangci-lint run ./...

lint: fmt-check vet lint-deps staticcheck

## fuzz-smoke: every fuzz target for a few seconds (CI)
fuzz-smoke:
	FUZZTIME=3s ./scripts/fuzz.sh

## fuzz: every fuzz target for FUZZTIME (default 10s; try FUZZTIME=10m)
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

## bench-compare: side-by-side vs redis-server (needs redis-server, redis-tools)
bench-compare: build
	./scripts/bench-compare.sh -- ./$(BIN) --port {PORT} --metrics-addr "" --maxmemory 0

## hitratio: replay the shared traces through every eviction policy
hitratio:
	$(GO) run ./cmd/tracesim -readme $(TRACES)/README.md

## hitratio-e2e: replay the shared traces over RESP against cachesrv and redis-server
## (allkeys-lru, allkeys-lfu) at the same maxmemory; MAX=N replays a prefix (default 1,000,000)
hitratio-e2e: build
	TRACES=$(TRACES) ./scripts/hitratio-e2e.sh

## rules-check: validate and unit-test the Prometheus rules and sample config (needs promtool)
rules-check:
	promtool check rules configs/prometheus/alerts.yml
	promtool test rules configs/prometheus/alerts_test.yml
	promtool check config configs/prometheus/prometheus.yml

## ci: exactly what .ci/run runs after installing the tools
ci: fmt-check vet lint-deps rules-check test test-loops-off race staticcheck fuzz-smoke

clean:
	rm -rf bin
