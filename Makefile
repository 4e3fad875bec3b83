# Capstan: the commands that build, test and run it.
GO        ?= go
BIN       ?= bin/capstan
GOFLAGS   ?=
PKGS      ?= ./...
TEST_TIMEOUT ?= 20m
FUZZTIME  ?= 10s

.PHONY: all build test check fmt vet unit fuzz bench-store chaos clean up down

all: build

build:
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/capstan

## test: everything CI runs: formatting, vet, the race-enabled test suite and short fuzzing.
test: check unit fuzz

check: fmt vet

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## fuzz: a short run of every fuzz target (go test -fuzz takes one target per run).
FUZZ_TARGETS = \
	FuzzApplyCommand:./raftstore/ \
	FuzzRequestBody:./apiserver/ \
	FuzzPatchJSON:./apiserver/internal/patch/ \
	FuzzPatchMerge:./apiserver/internal/patch/ \
	FuzzPatchStrategic:./apiserver/internal/patch/ \
	FuzzPatchApply:./apiserver/internal/patch/

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/capstan-fuzz.log 2>&1 || { tail -40 /tmp/capstan-fuzz.log; exit 1; }; \
	done

## bench-store: the raftstore benchmark recorded in docs/BENCHMARKS.md.
bench-store: build
	$(BIN) bench store

## chaos: the long chaos suite (200 leader kills under load, then 50 leadership transfers; about
## 15 minutes on 2 cores). Report, summary and, on violations, evidence go to CHAOS_OUT.
CHAOS_OUT       ?= chaos-out/long
CHAOS_SEED      ?= 7
CHAOS_LOG_STORE ?= wal
chaos: build
	$(BIN) chaos run --scenario long --seed $(CHAOS_SEED) --duration 1m --raft-log-store $(CHAOS_LOG_STORE) --out $(CHAOS_OUT)

clean:
	rm -rf bin

## up: a local HA cluster (3 masters) on this machine; down stops it.
up: build
	$(BIN) up

down: build
	$(BIN) down
