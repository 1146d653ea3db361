# nerstream — build, test and run. Every target installs what it needs via `make setup`.
SHELL := /bin/bash
export CGO_ENABLED := 1
GO ?= go
BIN := bin
MODEL ?= $(firstword $(wildcard models/jnlpba-v2) testdata/tinybert)

.PHONY: setup build test test-short demo bench bench-peers fuzz fuzz-long soak bench-memory replication-faults vet lint fmt clean

setup: ## idempotent: ONNX Runtime library, Go modules, node test tools
	@./scripts/setup.sh

build: setup ## build worker and producer into bin/
	$(GO) build -o $(BIN)/ ./worker ./producer

test: setup ## the whole suite (what CI runs)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

test-short: setup
	$(GO) test -short -count=1 ./...

KAFKA ?= embedded
KAFKA_PORT ?= 19092
demo: build ## the main job on the embedded default; KAFKA=apache: on Apache Kafka (scripts/apache-kafka.sh, data in var/kafka, ports KAFKA_PORT and the next)
ifeq ($(KAFKA),apache)
	@set -e; trap 'scripts/apache-kafka.sh stop var/kafka' EXIT; \
	  brokers=$$(scripts/apache-kafka.sh start var/kafka $(KAFKA_PORT)); \
	  $(BIN)/worker demo --model $(MODEL) --brokers $$brokers --data-dir var/demo-apache
else ifeq ($(KAFKA),embedded)
	$(BIN)/worker demo --model $(MODEL)
else
	$(error KAFKA=$(KAFKA): want embedded or apache)
endif

bench: setup ## benchmarks that print throughput numbers
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/...

bench-peers: build ## nerstream vs transformers.js on the shipped model, alternating runs (ROUNDS=3)
	bench/peers/run.sh models/jnlpba-v2 testdata/jnlpba/devel.docs.jsonl $${ROUNDS:-3} 2

fuzz: setup ## a short run of every fuzz target
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s -fuzzminimizetime 200x $$pkg || exit 1; \
	  done; done

FUZZTIME ?= 10m
fuzz-long: setup ## every fuzz target for FUZZTIME (default 10m) each, one at a time; new corpus entries go to testdata/fuzz
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg || exit 1; \
	    dir=$$($(GO) list -f '{{.Dir}}' $$pkg); cache=$$($(GO) env GOCACHE)/fuzz/$$pkg/$$f; \
	    if [ -d "$$cache" ]; then mkdir -p $$dir/testdata/fuzz/$$f && cp -n $$cache/* $$dir/testdata/fuzz/$$f/; fi; \
	  done; done

SOAK_DOCS ?= 20000
SOAK_FAULTS ?= 70
SOAK_KILLS ?= 50
BROKER ?= kfake
soak: setup ## chaos soak: 3 workers, SOAK_DOCS documents, SOAK_FAULTS random SIGKILL/SIGTERM/SIGSTOP (at least SOAK_KILLS SIGKILLs) on BROKER (kfake or apache); prints its figures
	@mkdir -p var
	set -o pipefail; NERSTREAM_SOAK_BROKER=$(BROKER) NERSTREAM_SOAK_DOCS=$(SOAK_DOCS) NERSTREAM_SOAK_FAULTS=$(SOAK_FAULTS) NERSTREAM_SOAK_KILLS=$(SOAK_KILLS) NERSTREAM_SOAK_SUMMARY=$(CURDIR)/var/soak-summary.txt \
	  $(GO) test -count=1 -timeout 180m -run '^TestChaosSoak$$' -v ./worker | grep -E '^(=== RUN|--- |\s+soak_test.go|ok|FAIL|PASS)'
	@cat var/soak-summary.txt

bench-memory: setup ## peak RSS of a `worker run` process splitting six records that expand to 200 MiB each (prints it; fails over 1 GiB)
	set -o pipefail; NERSTREAM_MEM_TEST=1 $(GO) test -count=1 -timeout 15m -run '^TestHugeRecordsWorkerPeakRSS$$' -v ./worker | grep -E '^(worker peak RSS|--- |ok|FAIL)'

replication-faults: setup ## 3-node Apache Kafka (acks=all, min.insync.replicas=2): leader SIGKILLed, follower stopped, controller SIGKILLed mid-run; prints its figures
	set -o pipefail; NERSTREAM_REPLICATION_FAULTS=all $(GO) test -count=1 -timeout 20m -run '^TestReplicationFaults$$' -v ./worker | grep -E '^(=== RUN|--- |\s+--- |\s+replication_test.go|ok|FAIL|PASS)'

vet:
	$(GO) vet ./...

lint: setup ## go vet + staticcheck
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
