# make test   build and run the tests against a throwaway redis-server and Redis Cluster (always stopped)
# make bench  build axon-bench in release mode and print the latency tables against a throwaway redis-server, cluster and TLS server
SHELL := /bin/bash
BENCH_ARGS ?=

.PHONY: deps build release test example-test tls-test chaos cluster-test sentinel-test bench warnings lua samples docs clean

deps:
	@./scripts/install-deps.sh

build: deps
	swift build

release: deps
	swift build -c release

test: deps samples
	./scripts/with-redis.sh ./scripts/with-cluster.sh ./scripts/with-tls.sh swift test
	./scripts/with-redis.sh ./scripts/test-example.sh

# Examples/agent-service (Hummingbird, Prometheus) built and driven over HTTP with curl (also part of `make test`).
example-test: deps
	./scripts/with-redis.sh ./scripts/test-example.sh

# The cluster suites alone, against a throwaway 3-primary, 3-replica cluster (the failover test starts its own).
cluster-test: deps samples
	./scripts/with-redis.sh ./scripts/with-cluster.sh ./scripts/with-tls.sh swift test --filter "ClusterTests|MemoryConformance|Primitives"

# The TLS suites alone: the TLS tests and the conformance suite over a throwaway TLS redis-server (certificates made
# by scripts/make-test-certs.sh), plus servers of the tests' own (mutual TLS, an expired certificate, kill/restart,
# a TLS-only cluster and a TLS primary, replica and sentinels).
tls-test: deps
	./scripts/with-redis.sh ./scripts/with-tls.sh swift test --filter "TLSTests|TLSScaleOutTests|MemoryConformance|Primitives"

# The fault suite alone (it also runs in `make test`): kill -9 and restart under load, SIGSTOP, OOM, eviction,
# maxclients, a listener that closes at once, each against throwaway servers.
chaos: deps
	./scripts/with-redis.sh swift test --filter ChaosTests

# The Sentinel suite alone: each test starts a primary, a replica and three sentinels of its own.
sentinel-test: deps samples
	./scripts/with-redis.sh swift test --filter SentinelTests

bench: deps
	swift build -c release --product axon-bench
	./scripts/with-redis.sh ./scripts/with-cluster.sh ./scripts/with-tls.sh .build/release/axon-bench $(BENCH_ARGS)

# Fails if a debug or release build prints a warning about this package (a dependency's own package warnings,
# "warning: 'swift-distributed-tracing': found 1 file(s) which are unhandled", are not ours to fix).
warnings: deps
	@for mode in debug release; do \
	  out=$$(swift build -c $$mode 2>&1) || { echo "$$out"; exit 1; }; \
	  ours=$$(grep "warning:" <<<"$$out" | grep -v "^warning: '[^']*': " ; grep "^warning: 'axon-swift': " <<<"$$out"); \
	  if [ -n "$$ours" ]; then echo "$$ours"; echo "swift build -c $$mode printed warnings"; exit 1; fi; \
	done; echo "no warnings in debug and release builds"

# Re-embeds Sources/Axon/Adapters/Lua/*.lua into MemoryScripts+Lua.swift (a test fails when it is stale).
lua:
	python3 scripts/embed-lua.py

# Regenerates Tests/DocSamples/Samples.swift from the Swift samples of the README and the DocC articles, which
# `make test` then compiles: a sample that no longer compiles fails the tests.
samples:
	python3 scripts/extract-samples.py

# DocC documentation of both libraries into .build/docs/<Target> (static HTML); fails on any DocC warning.
docs: deps
	@mkdir -p .build/docs; for target in Hiredis Axon; do \
	  out=$$(swift package --allow-writing-to-directory .build/docs generate-documentation --target $$target \
	    --output-path .build/docs/$$target --transform-for-static-hosting --warnings-as-errors 2>&1) \
	    || { echo "$$out"; exit 1; }; \
	  echo "$$target: .build/docs/$$target"; \
	done

clean:
	rm -rf .build
