# berth: build, test, benchmark, install. Tests and benchmarks need root.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0
# berth-nsenter, the single-threaded stage (cmd/berth-nsenter): static, so
# that it runs before any library of a container could be found.
NSENTER_CC ?= gcc
NSENTER_CFLAGS := -static -Os -s -Wall -Wextra -Werror -std=gnu11

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The commit and its time, for berth version (the commit's time, not the
# build's, so that the same source builds the same binary).
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
COMMIT_TIME ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.commitTime=$(COMMIT_TIME)
PREFIX ?= /usr/local
DEMO_ROOTFS := .cache/demo-rootfs
VM_PAYLOAD := .cache/vm-payload

.PHONY: build man deps demo test test-lanes test-unit test-fuzz test-integration test-v2 test-systemd test-oci test-engines test-cri test-runc-bats bench install clean

build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth ./cmd/berth
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-oci ./cmd/berth-oci
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-init ./cmd/berth-init
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-build ./cmd/berth-build
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-registry ./cmd/berth-registry
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-format ./cmd/berth-format
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/berth-cdi ./cmd/berth-cdi
	$(NSENTER_CC) $(NSENTER_CFLAGS) -o bin/berth-nsenter cmd/berth-nsenter/*.c
	$(NSENTER_CC) $(NSENTER_CFLAGS) -o bin/berth-pid1 cmd/berth-pid1/*.c
	$(NSENTER_CC) $(NSENTER_CFLAGS) -o bin/berth-stage cmd/berth-stage/*.c
	$(NSENTER_CC) $(NSENTER_CFLAGS) -o bin/berth-monitor cmd/berth-monitor/*.c

deps:
	scripts/install-deps.sh

# Sets everything up, imports a busybox image built from Debian's
# busybox-static and runs a demo container (no registry needed).
demo: deps build
	scripts/mkrootfs.sh $(DEMO_ROOTFS)
	scripts/demo-image.sh $(DEMO_ROOTFS) .cache/busybox-rootfs.tar
	bin/berth run --rm --hostname box --pids-limit 64 --memory 256m --cpus 0.5 -e FOO=bar busybox /bin/sh -c 'hostname; ps; echo $$FOO; ip -4 -o addr show eth0'

# The whole suite: unit tests, a short run of every fuzz test, integration
# tests on this host's cgroups, the integration tests again in a VM whose
# only hierarchy is cgroup v2, the OCI runtime validation suite, and real
# engines (podman, containerd) driving berth-oci, and Kubernetes' critest
# through containerd's CRI with runc as the baseline.
test: deps test-unit test-fuzz test-lanes

# What each test target builds first: everything, unless test-lanes, which
# built once, runs several targets at once (BUILT= : none rebuilds bin/
# under another's feet).
BUILT ?= build

# The host's suites and the cgroup v2 VM's, side by side: the VM (qemu's
# TCG) keeps about one of this machine's two CPUs busy for 12 minutes,
# the host's suites about one, and one after the other they took 34 of
# CI's minutes. The VM's lane writes to a file, printed after the host's.
# The packages both lanes need are installed before they start, so that
# no two apt-get runs meet. HOST_LANE and VM_LANE pick other targets.
HOST_LANE ?= test-integration test-oci test-engines test-cri
VM_LANE ?= test-v2 test-systemd
test-lanes: build
	test/vm/install-deps.sh
	@vmlog=$$(mktemp); \
	( $(MAKE) --no-print-directory BUILT= $(VM_LANE) >$$vmlog 2>&1 ) & vm=$$!; \
	host=0; $(MAKE) --no-print-directory BUILT= $(HOST_LANE) || host=$$?; \
	vmrc=0; wait $$vm || vmrc=$$?; \
	echo "==== the VM's lane (make $(VM_LANE)), exit status $$vmrc:"; \
	cat $$vmlog; rm -f $$vmlog; \
	echo "==== host lane exit status $$host, VM lane exit status $$vmrc"; \
	[ $$host = 0 ] && [ $$vmrc = 0 ]

test-unit:
	go test -count=1 ./internal/... ./cmd/... ./test/cri/...

# Every Go fuzz test (the parsers of hostile input), FUZZTIME each; their
# seed corpora already run in test-unit. A count of executions, not a
# duration: with a duration Go's fuzz coordinator races its own deadline on
# a loaded machine and fails with "context deadline exceeded" and no
# crasher (seen in CI); a count has no deadline to race.
FUZZTIME ?= 5000x
test-fuzz:
	@set -e; for pkg in $$(go list ./internal/... ./cmd/...); do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$f ($$pkg, $(FUZZTIME))"; \
			out=$$(go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		done; \
	done

test-integration: $(BUILT)
	BERTH_BIN=$(CURDIR)/bin/berth BERTH_OCI_BIN=$(CURDIR)/bin/berth-oci go test -count=1 -v -timeout 30m ./test/integration/

# The integration tests again, in a VM whose only hierarchy is cgroup v2
# (Debian's 6.1 kernel, test/vm/README.md). Tests of userspace alone (a
# Dockerfile's semantics, the image store, cp) skip there: hostSuiteOnly
# in test/integration/main_test.go. VM_TEST_ARGS picks a subset.
test-v2: $(BUILT)
	test/vm/install-deps.sh
	rm -rf $(VM_PAYLOAD) && mkdir -p $(VM_PAYLOAD)
	cp bin/berth $(VM_PAYLOAD)/berth
	cp bin/berth-oci $(VM_PAYLOAD)/berth-oci
	cp bin/berth-init $(VM_PAYLOAD)/berth-init
	cp bin/berth-build $(VM_PAYLOAD)/berth-build
	cp bin/berth-registry $(VM_PAYLOAD)/berth-registry
	cp bin/berth-format $(VM_PAYLOAD)/berth-format
	cp bin/berth-nsenter $(VM_PAYLOAD)/berth-nsenter
	cp bin/berth-pid1 $(VM_PAYLOAD)/berth-pid1
	cp bin/berth-stage $(VM_PAYLOAD)/berth-stage
	cp bin/berth-monitor $(VM_PAYLOAD)/berth-monitor
	cp bin/berth-cdi $(VM_PAYLOAD)/berth-cdi
	CGO_ENABLED=0 go build -o $(VM_PAYLOAD)/berth-probe ./test/probe
	go build -o $(VM_PAYLOAD)/int80 ./test/integration/testdata/int80
	go test -c -o $(VM_PAYLOAD)/integration.test ./test/integration
	BERTH_VM_TIMEOUT=$${BERTH_VM_TIMEOUT:-1500} test/vm/run.sh $(VM_PAYLOAD) -- -test.timeout 24m -test.skip TestPodmanCheckpointRestore/runc $(VM_TEST_ARGS)

# berth-oci's systemd cgroup driver, in the cgroup v2 VM booted with the
# host's systemd as PID 1 (test/vm/README.md); about a minute.
test-systemd: $(BUILT)
	test/vm/install-deps.sh
	rm -rf $(VM_PAYLOAD)-systemd && mkdir -p $(VM_PAYLOAD)-systemd
	cp bin/berth bin/berth-oci bin/berth-init $(VM_PAYLOAD)-systemd/
	CGO_ENABLED=0 go build -o $(VM_PAYLOAD)-systemd/berth-probe ./test/probe
	go test -c -o $(VM_PAYLOAD)-systemd/integration.test ./test/integration
	BERTH_VM_INIT=systemd test/vm/run.sh $(VM_PAYLOAD)-systemd -- -test.run 'TestSystemd|TestOCIFeaturesExercised/cgroup' -test.timeout 5m

# The OCI validation suite (opencontainers/runtime-tools); fails unless
# every program in test/oci/expected-pass.txt passes. docs/conformance.md.
test-oci: $(BUILT)
	test/oci/build.sh
	test/oci/run.sh $(CURDIR)/bin/berth-oci

test-engines: $(BUILT)
	test/engines/run.sh $(CURDIR)/bin/berth-oci

# critest (cri-tools v1.37.0) through a private containerd's CRI plugin,
# once with runc and once with berth-oci; fails unless every case that
# passes with runc passes with berth. docs/kubernetes.md.
test-cri: $(BUILT)
	test/cri/run.sh $(CURDIR)/bin/berth-oci

# runc's own integration suite (bats, runc v1.1.5's tests/integration)
# against berth-oci; RUNC_BATS_RUNTIME=/usr/sbin/runc for the baseline.
# Not part of `test`: 15 to 20 minutes per runtime here, and it reports, it
# does not gate (test/runc-bats/reasons.txt lists what berth-oci fails).
# docs/conformance.md.
RUNC_BATS_RUNTIME ?= $(CURDIR)/bin/berth-oci
test-runc-bats: $(BUILT)
	test/runc-bats/run.sh $(RUNC_BATS_RUNTIME)

bench: deps build
	BERTH=$(CURDIR)/bin/berth BERTH_OCI=$(CURDIR)/bin/berth-oci bench/run.sh

# Man pages, from the same command definitions as --help.
man: build
	rm -rf .cache/man1 && bin/berth gen-man .cache/man1

install: build man
	install -D -m 0755 bin/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 bin/berth-oci $(DESTDIR)$(PREFIX)/bin/berth-oci
	install -D -m 0755 bin/berth-init $(DESTDIR)$(PREFIX)/bin/berth-init
	install -D -m 0755 bin/berth-build $(DESTDIR)$(PREFIX)/bin/berth-build
	install -D -m 0755 bin/berth-registry $(DESTDIR)$(PREFIX)/bin/berth-registry
	install -D -m 0755 bin/berth-format $(DESTDIR)$(PREFIX)/bin/berth-format
	install -D -m 0755 bin/berth-nsenter $(DESTDIR)$(PREFIX)/bin/berth-nsenter
	install -D -m 0755 bin/berth-pid1 $(DESTDIR)$(PREFIX)/bin/berth-pid1
	install -D -m 0755 bin/berth-stage $(DESTDIR)$(PREFIX)/bin/berth-stage
	install -D -m 0755 bin/berth-monitor $(DESTDIR)$(PREFIX)/bin/berth-monitor
	install -D -m 0755 bin/berth-cdi $(DESTDIR)$(PREFIX)/bin/berth-cdi
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 .cache/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	# berth's range of subordinate IDs for --userns=auto (first use adds it too).
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(PREFIX)/bin/berth setup-subids; fi

clean:
	rm -rf bin .cache
