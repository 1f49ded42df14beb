# Spark's environment for every Spark process started from the project's virtualenv (`make setup`
# links this folder as pyspark's conf/). Spark reads the address its UI binds to only from
# SPARK_LOCAL_IP, so a driver with a local master (what KOS runs by default) gets the stack's host:
# UI, RPC and block manager on loopback. Any SPARK_LOCAL_IP set beforehand is kept; a driver for a
# cluster (--master spark://..., yarn, k8s://...) is left alone (see README, "What listens where").
if [ -z "${SPARK_LOCAL_IP:-}" ]; then
  kos_master=local
  kos_previous=
  for kos_arg in "$@"; do
    case "$kos_previous" in --master) kos_master=$kos_arg ;; esac
    case "$kos_arg" in --master=*) kos_master=${kos_arg#--master=} ;; esac
    kos_previous=$kos_arg
  done
  case "$kos_master" in
    local*) SPARK_LOCAL_IP=${KOS_STACK_HOST:-127.0.0.1} ;;
  esac
  unset kos_master kos_previous kos_arg
fi

# The Python of the project's virtualenv (which holds pyspark, pyarrow, protobuf and KOS itself) for drivers
# and executors, unless PYSPARK_PYTHON says otherwise. SPARK_HOME is its site-packages/pyspark.
if [ -z "${PYSPARK_PYTHON:-}" ] && [ -x "${SPARK_HOME}/../../../../bin/python" ]; then
  PYSPARK_PYTHON=$(cd "${SPARK_HOME}/../../../../bin" && pwd)/python
fi

# KOS's JVM side (build/kos-spark.jar: the protobuf functions and the candidate search) and protobuf-java, both built
# into the project's build/ by `make setup`, on the class path of every Spark process started from this virtualenv:
# drivers (a plain SparkSession.builder.getOrCreate() too), a local master's executors, and the standalone master's
# workers and the executors they start. Jobs for a cluster elsewhere ship the same jars with --jars.
kos_build=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]:-$0}")")/../../build" 2>/dev/null && pwd)
if [ -n "$kos_build" ]; then
  SPARK_DIST_CLASSPATH="$kos_build/kos-spark.jar:$kos_build/lib/*${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}"
fi
unset kos_build
