# KOS: `make demo` sets everything up and runs the pipeline; `make test` runs the test suite.
# Both work on a fresh Debian 12 machine with JDK 17, Maven and Python 3.11, as root.

PYTHON  ?= python3
VENV    := .venv
PACKAGES := kos kosproto shipper jobs storage report kosctl dags
PY      := $(VENV)/bin/python
KOS     := $(VENV)/bin/kos
APT_PACKAGES := mariadb-server mariadb-client kcat protobuf-compiler rsyslog logrotate chromium openssl \
                prometheus prometheus-alertmanager

.PHONY: help setup apt venv maven jar spark-conf proto stack-start stack-stop stack-status demo run test test-unit lint bench airflow history systemd clean

help:
	@echo "make demo        set up, start the local stack, ship the syslog, show what arrived"
	@echo "make test        run the test suite (starts the local Kafka it needs)"
	@echo "make stack-start | stack-stop | stack-status"
	@echo "make run         the pipeline continuously (kos run): shipper, transform, load, live query; Ctrl-C stops"
	@echo "make airflow     Airflow (standalone) with the KOS DAGs, UI on 127.0.0.1:8080"
	@echo "make systemd     conf/systemd units for this checkout, checked, into .kos/systemd (see README)"
	@echo "make history     the Spark history server over the jobs' event logs, on 127.0.0.1:18080"
	@echo "make bench       benchmarks: shipper next to kcat, codec next to a upb loop, transform next to one Python"
	@echo "                 process, MySQL sink next to LOAD DATA, line-to-row latency, memory over an hour's input,"
	@echo "                 metrics next to MariaDB's SQL (out/bench/)"
	@echo "make lint        ruff and mypy"
	@echo "make proto       rebuild descriptors/kos.desc from proto/"

setup: apt venv maven jar spark-conf

# Debian packages, installed only when missing. KOS runs its own MariaDB (kos stack), so a system
# server the package may have started is stopped to free port 3306.
# Debian's packages start their services when installed (MariaDB on 3306, Prometheus on 9090, Alertmanager on
# 9093, the Kafka controller's port here): a policy-rc.d that says no keeps them all down. KOS and its tests start
# their own, on their own ports.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  policy=/usr/sbin/policy-rc.d; ours=; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod +x $$policy && ours=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; status=$$?; \
	  if [ -n "$$ours" ]; then rm -f $$policy; fi; \
	  service mariadb stop >/dev/null 2>&1 || true; \
	  exit $$status; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[spark,dev,airflow]'
	touch $@

# Spark processes started from the virtualenv read conf/spark (spark-env.sh: a local-master driver binds to the
# stack's host, its UI included, which Spark takes from SPARK_LOCAL_IP only).
spark-conf: $(VENV)/.installed
	ln -sfn $(CURDIR)/conf/spark "$$($(PY) -c 'from pyspark.find_spark_home import _find_spark_home as f; print(f())')/conf"

# The JDBC driver and Spark's Kafka connector into ~/.m2 (Spark's --packages resolves from there), the Kafka broker's class path
# into .kos/lib/kafka.
maven: $(VENV)/.installed
	mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get -Dartifact=com.mysql:mysql-connector-j:9.5.0
	mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get -Dartifact=org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0
	$(PY) -c "from kos import config; from kosctl.stack.kafka import KafkaStack; KafkaStack(config.load()).install()"

# KOS's JVM side, from source: the protobuf functions (kosproto/java) and the candidate search (jobs/java), compiled
# against the Spark of the virtualenv, into build/kos-spark.jar; protobuf-java (which no Spark jar carries) beside it
# in build/lib. conf/spark puts both on every Spark process's class path; the jobs also ship them with --jars.
SPARK_JARS     = $$($(PY) -c 'from pyspark.find_spark_home import _find_spark_home as f; print(f())')/jars
PROTOBUF_JAVA := $(shell sed -n 's/^PROTOBUF_JAVA_VERSION = "\(.*\)"/\1/p' kosproto/jvm.py)
JAVA_SOURCES  := $(shell find kosproto/java jobs/java -name '*.java' | sort)

jar: build/kos-spark.jar

build/kos-spark.jar: $(JAVA_SOURCES) kosproto/jvm.py $(VENV)/.installed
	mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
	    -Dartifact=com.google.protobuf:protobuf-java:$(PROTOBUF_JAVA) -DoutputDirectory=build/lib
	rm -rf build/classes && mkdir -p build/classes
	javac -Xlint:all,-path,-serial -Werror --release 17 -encoding UTF-8 -d build/classes \
	    -cp "$(SPARK_JARS)/*:build/lib/protobuf-java-$(PROTOBUF_JAVA).jar" $(JAVA_SOURCES)
	jar --create --file $@ -C build/classes .

# The protobuf contract: descriptors/kos.desc from proto/ (checked in; a test fails when it is stale).
proto: $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -Iproto --include_imports --descriptor_set_out=descriptors/kos.desc \
	    $$(cd proto && find . -name '*.proto' | sort | sed 's|^\./||')

stack-start: setup
	$(KOS) stack start

stack-stop:
	$(KOS) stack stop

stack-status:
	$(KOS) stack status

demo: stack-start
	$(PY) -m kosctl.demo

# Foreground, until Ctrl-C; `kos status` in another terminal.
run: stack-start
	$(KOS) run

# The units of conf/systemd with /opt/kos replaced by this checkout, checked by systemd-analyze where it exists.
systemd:
	@mkdir -p .kos/systemd
	@for unit in conf/systemd/*.service; do sed "s#/opt/kos#$(CURDIR)#g" $$unit > .kos/systemd/$$(basename $$unit); done
	@if command -v systemd-analyze >/dev/null; then systemd-analyze verify .kos/systemd/*.service; fi
	@echo "units in .kos/systemd; install: cp .kos/systemd/*.service /etc/systemd/system/ && systemctl daemon-reload"

# Two pytest runs (the two folders need different Maven packages), each spread by pytest-xdist: the unit tests
# over the cores (a worker per core, each with its own SparkSession); the integration tests over two workers,
# each with a local stack of its own (tests/support/workers.py: some tests stop its broker or its database), a
# module's tests on one worker (loadfile: a module's fixture, such as a cluster, is made once; loadgroup's marks
# are ignored with pytest 9.2, pytest-xdist issue 1386).
test: setup lint
	$(VENV)/bin/pytest -n auto
	$(VENV)/bin/pytest tests/integration -n 2 --dist loadfile

test-unit: venv
	$(VENV)/bin/pytest -n auto

# mypy checks bench/ on its own: its files are scripts (bench/shipper.py is not the shipper package).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(PACKAGES) tests
	$(VENV)/bin/mypy bench

# Foreground; Ctrl-C stops it. Needs the stack for the DAGs to succeed.
airflow: stack-start
	$(PY) -m kosctl.airflow

history: setup
	$(KOS) stack start --only history

# Every benchmark, one after the other (about two hours on 2 cores); each writes out/bench/<name>.json.
bench: stack-start
	$(PY) bench/shipper.py
	$(PY) bench/codec.py
	$(PY) bench/transform.py
	$(PY) bench/transform.py --lines 10000000
	$(PY) bench/load.py --profile
	$(PY) bench/latency.py
	$(PY) bench/metrics.py
	$(PY) bench/run.py

clean: stack-stop
	rm -rf .kos out build
