# fleetgate: device identity for MQTT fleets.
# `make run` starts the whole stack on the embedded bbolt registry under ./data;
# `make test` runs the test suite (unit, integration and end-to-end).

GO      ?= go
BIN     := bin
DATA    ?= data
BENCHTIME ?= 3s
FUZZTIME  ?= 30s

.PHONY: all build run test test-deps test-quick vet bench bench-connect bench-limits bench-ocsp bench-cluster bench-brokermem bench-100k bench-revoke bench-hsm bench-est bench-enrol bench-console sim sim-multi fuzz attack soak cross clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/fleetgate ./cmd/fleetgate

run: build
	./$(BIN)/fleetgate serve --data $(DATA)

vet:
	$(GO) vet ./...
	$(GO) vet -tags $(TEST_TAGS) ./...

# Build tags of the tests that need more than Go: the go-tpm simulator (cgo
# and OpenSSL headers: libssl-dev), swtpm (Debian swtpm, swtpm-tools) and
# qemu (Debian qemu-user: the arm64 agent build run under qemu-aarch64) and
# chromium (Debian chromium: the simulator's HTML report rendered headless).
TEST_TAGS ?= tpmsimulator,swtpm,qemu,chromium

# The Debian packages the tests drive, installed when missing (one
# apt-get update; sudo when not root; a clear message when it cannot).
test-deps:
	@./scripts/test-deps

# The whole suite: unit tests on real bbolt/TLS/mochi, TPM tests on the go-tpm
# simulator and on swtpm, and end-to-end tests in test/ that start the real
# server binary and drive it with paho and Debian's mosquitto clients.
test: test-deps vet
	FLEETGATE_REQUIRE_ETCD=1 FLEETGATE_REQUIRE_NATS=1 FLEETGATE_REQUIRE_SOFTHSM=1 FLEETGATE_REQUIRE_NODE=1 $(GO) test -count=1 -timeout 14m -tags $(TEST_TAGS) ./...
	# The registry's whole suite again, on etcd instead of bbolt files.
	FLEETGATE_STORE_BACKEND=etcd $(GO) test -count=1 -timeout 5m ./store/

# The same without the TPM simulator and swtpm, for a machine without them.
test-quick:
	$(GO) test -count=1 -timeout 12m ./...

# Side by side in one run: a bare crypto/tls mTLS listener, our broker with
# full auth, plain mochi over mTLS and Mosquitto (Debian mosquitto), same
# client and certificates, every Go server at the same GOGC (400); the
# memory row holds 10,000 devices idle for 2 minutes (--idle-hold). Prints
# the table with ratios against the goals and writes bench-results/ (JSON
# + HTML).
bench: test-deps build
	$(GO) run ./firmware-sim/cmd/firmware-sim bench --server-bin $(BIN)/fleetgate --out bench-results

# What an idle fleet costs: the memory row alone (fleetgate, the bare TLS
# listener and Mosquitto, --idle devices held idle for --idle-hold) with
# fleetgate's heap profiles before and after the hold; then prints what
# allocated during the hold and what the idle devices hold, by call site.
.PHONY: bench-idle
IDLE_PROFILES := bench-results/idle
bench-idle: test-deps build
	@status=0; $(GO) run ./firmware-sim/cmd/firmware-sim bench --server-bin $(BIN)/fleetgate --rows memory \
		--contenders bare-tls,mosquitto --profile $(IDLE_PROFILES) --out bench-results --name idle || status=$$?; \
	$(GO) tool pprof -sample_index=alloc_space -top -nodecount=15 \
		-base $(IDLE_PROFILES)/fleetgate-idle-heap-start.pb.gz $(IDLE_PROFILES)/fleetgate-idle-heap.pb.gz; \
	$(GO) tool pprof -sample_index=inuse_space -top -nodecount=25 $(IDLE_PROFILES)/fleetgate-idle-heap.pb.gz; \
	exit $$status

# Device certificates issued per second: file keys against the device
# intermediate in a SoftHSM token, in one run.
bench-hsm: test-deps
	$(GO) test -count=3 -run '^$$' -bench IssueHSM -benchtime 2000x ./provisioning/ca/ | grep -E "Benchmark|ok|FAIL"

# The console over 100,000 devices: server time per device-list page and
# search (goal p99 < 50 ms), and the server's CPU with 20 consoles open on
# the live overview of an idle fleet (goal < 2% of one core).
bench-console: test-deps
	$(GO) test -count=1 -run '^$$' -bench ConsoleDeviceList -benchtime 1x -v ./provisioning/api/ | grep -E "reference|ms|Benchmark|ok|FAIL"
	$(GO) test -count=1 -run '^$$' -bench ConsoleIdleCPU -benchtime 1x -timeout 20m -v ./test/ | grep -E "server CPU|Benchmark|ok|FAIL"

# Scale-out, in one run: connects/s of a broker on etcd beside one on
# bbolt; revocation fan-out to three brokers, p50/p99; QoS 0 and QoS 1
# messages/s and p50/p99 with publisher and subscriber on one broker and
# on two brokers routed over NATS; one message fanned out to 10,000
# subscribers over three brokers (needs etcd-server and nats-server).
bench-cluster: test-deps
	$(GO) test -count=1 -run '^$$' -bench 'RegistryConnect|RevocationFanout|BusRouting|BusFanout' -benchtime 1x -timeout 40m -v ./test/ | \
	  grep -E "round|fan-out|routing|subscribers|Benchmark|ok|FAIL"

# What an idle device costs one broker: a broker on bbolt without a bus
# against a broker of a cluster (etcd registry, NATS bus), in one run,
# FLEETGATE_BENCH_MEM_DEVICES (3,000) devices each subscribed to its own
# command topic. Prints RSS, live heap and goroutines per device, then
# what the cluster broker's devices hold, by call site.
BROKERMEM_PROFILES := bench-results/brokermem
bench-brokermem: test-deps
	@status=0; FLEETGATE_BENCH_PROFILES=$(CURDIR)/$(BROKERMEM_PROFILES) $(GO) test -count=1 -run '^$$' -bench BrokerMemory -benchtime 1x -timeout 20m -v ./test/ | \
	  grep -E "bbolt:|cluster:|flags:|^Benchmark|^ok|FAIL" || status=$$?; \
	$(GO) tool pprof -sample_index=inuse_space -top -nodecount=25 \
		-base $(BROKERMEM_PROFILES)/cluster-before.pb.gz $(BROKERMEM_PROFILES)/cluster-after.pb.gz; \
	exit $$status

# 100,000 mTLS devices on this machine (FLEETGATE_FLEET_DEVICES): etcd,
# nats-server, an API process, brokers of at most 19,000 devices each (the
# open-file limit is 20,000), firmware-sim split over processes; every
# device enrolls, connects, publishes and receives; then one bulk
# revocation of 10,000. etcd's data goes to /dev/shm (TMPDIR): this disk's
# fsync (~10 ms) would otherwise cap enrollments. Report and charts in
# bench-100k-report/.
bench-100k: test-deps
	TMPDIR=/dev/shm $(GO) test -count=1 -run '^$$' -bench '^BenchmarkFleet$$' -benchtime 1x -timeout 120m -v ./test/

# The broker's connect path alone against a bare crypto/tls loop, in-process.
# One bulk revocation of FLEETGATE_BENCH_DEVICES (10,000) connected devices:
# from the command's return until the last session is gone, on bbolt and
# on a 3-member etcd cluster with three brokers.
bench-revoke: test-deps
	$(GO) test -count=1 -run '^$$' -bench BulkRevocation -benchtime 1x -timeout 60m -v ./test/ | grep -E "devices registered|sessions open|command|Benchmark|ok|FAIL"

# Token enrolments per second on bbolt and on etcd (data in /dev/shm, as in
# bench-100k), 64 and 512 at once: through the API over HTTPS with a TLS
# connection per enrolment, as devices do (provisioning/api), then the
# registry alone (store); with etcd round trips and commits per enrolment.
bench-enrol: test-deps
	TMPDIR=/dev/shm $(GO) test -count=1 -run '^$$' -bench 'BenchmarkTokenEnrollment/fleet/' -benchtime 2000x -timeout 30m ./provisioning/api/ | grep -E "Benchmark|ok|FAIL"
	TMPDIR=/dev/shm $(GO) test -count=1 -run '^$$' -bench 'BenchmarkTokenEnrollment' -benchtime 1x -timeout 30m ./store/ | grep -E "Benchmark|ok|FAIL"

# EST simpleenroll beside the JSON token route, same server, same run.
bench-est:
	$(GO) test -run '^$$' -bench BenchmarkESTEnrollment -benchtime 2000x -count 3 ./provisioning/api/ | grep -E "Benchmark|ok|FAIL"

bench-connect:
	$(GO) test -run '^$$' -bench BenchmarkConnect -benchtime 2000x -count 3 -v ./broker/ | grep -E "key exchange|Benchmark|broker/bare"

# The limits under flood (broker/limits_bench_test.go): others' publish
# p99 with one device flooding vs without (goal <= 1.5x), and connect p99
# with one address flooding handshakes vs without (goal <= 2x); ~2 min.
bench-limits:
	TMPDIR=/dev/shm $(GO) test -count=1 -run '^$$' -bench BenchmarkLimitsFlood -benchtime 1x -timeout 10m -v ./broker/ | grep -E "registered|connected in|flood:|Benchmark|ok|FAIL"

# OCSP responses/s over loopback HTTP (cached and uncached) and a CRL of
# 100,000 revoked certificates (time, bytes).
bench-ocsp:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./provisioning/revocation/

# A fleet of SIM_DEVICES simulated devices through the real agent code
# against a server it starts; report in sim-report/.
SIM_DEVICES ?= 19000
sim: build
	$(GO) run ./firmware-sim/cmd/firmware-sim --start-server --server-bin $(BIN)/fleetgate --devices $(SIM_DEVICES) \
	  --max-inflight 128 --storm --rotate 100 --revoke 0.05 --out sim-report

# The same fleet split over SIM_PROCS simulator processes (each under the
# 20,000 open-file limit), their reports merged into sim-multi-report/.
# One started server holds about 19,900 sessions here: 100,000 devices
# need the broker spread over several processes too (the cluster), given
# with SIM_TARGET (--api ... --broker ... --ca ... --admin-cert ...
# --admin-key ...) instead of --start-server.
SIM_PROCS ?= 5
SIM_MULTI_DEVICES ?= 100000
SIM_TARGET ?= --start-server --server-bin $(BIN)/fleetgate
sim-multi: build
	$(GO) build -o $(BIN)/firmware-sim ./firmware-sim/cmd/firmware-sim
	$(BIN)/firmware-sim $(SIM_TARGET) --procs $(SIM_PROCS) --devices $(SIM_MULTI_DEVICES) \
	  --max-inflight 640 --storm --rotate 100 --revoke 0.05 --out sim-multi-report

# Bounded fuzzing of each fuzz target (the seeds also run in `make test`).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The attack matrix over real processes, with its one-line summary.
attack:
	@$(GO) test -count=1 -run '^TestAttackMatrix$$' -v -timeout 10m ./test/ > attack.log 2>&1; rc=$$?; \
	  grep -E '^ *--- |^attack matrix:' attack.log; exit $$rc

# Crash safety at full length: the server SIGKILLed 200 times mid-load.
soak:
	FLEETGATE_CRASH_ITER=200 $(GO) test -count=1 -run '^TestCrashSafety$$' -v -timeout 30m ./test/

# Static device-agent binaries for ARM (no cgo, stripped); prints the sizes.
AGENT_LDFLAGS := -s -w
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o dist/device-agent-linux-arm64 ./device-agent/cmd/device-agent
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o dist/device-agent-linux-armv7 ./device-agent/cmd/device-agent
	@for f in dist/device-agent-linux-*; do \
	  size=$$(stat -c %s $$f); echo "$$f: $$size bytes ($$(awk "BEGIN{printf \"%.2f\", $$size/1048576}") MiB, goal <= 8 MiB)"; \
	  [ $$size -le 8388608 ] || { echo "$$f is over 8 MiB"; exit 1; }; \
	done

clean:
	rm -rf $(BIN) dist attack.log
