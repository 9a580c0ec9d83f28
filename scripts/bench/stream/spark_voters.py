#!/usr/bin/env python3
"""The guide's grouped-count query in PySpark Structured Streaming, timed.

    spark_voters.py BOOTSTRAP TOPIC KAFKA_PACKAGE IVY_DIR SHUFFLE_PARTITIONS

Reads TOPIC from the earliest offset with the Kafka source, parses `value` with
from_json(gender STRING, age LONG, party STRING), groups by gender and party,
counts, in complete mode with Trigger.AvailableNow (every record that exists
at start, then stop), into the memory sink. Prints one JSON line: timings,
the rows Spark counted, and the result table.
"""
import json
import os
import sys
import time

t0 = time.time()
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.functions import col, from_json  # noqa: E402
from pyspark.sql.types import LongType, StringType, StructField, StructType  # noqa: E402

bootstrap, topic, package, ivy, shuffle = sys.argv[1:6]
spark = (
    SparkSession.builder.master("local[2]")
    .appName("kwire-bench-stream")
    .config("spark.jars.packages", package)
    .config("spark.jars.ivy", ivy)
    .config("spark.sql.shuffle.partitions", shuffle)
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
t_session = time.time()

schema = StructType([
    StructField("gender", StringType(), True),
    StructField("age", LongType(), True),
    StructField("party", StringType(), True),
])
kafka = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", bootstrap)
    .option("subscribe", topic)
    .option("startingOffsets", "earliest")
    .load()
)
stats = kafka.select(from_json(kafka["value"].cast(StringType()), schema).alias("voterJSON")) \
    .groupBy("voterJSON.gender", "voterJSON.party").count()
t_start = time.time()
query = (
    stats.writeStream.outputMode("complete").format("memory").queryName("voter_counts")
    .trigger(availableNow=True).start()
)
query.awaitTermination()
t_end = time.time()
progress = query.recentProgress
rows = sum(p["numInputRows"] for p in progress)
batch_ms = sum(p["durationMs"].get("triggerExecution", 0) for p in progress)
table = sorted(
    [[r["gender"], r["party"], r["count"]] for r in spark.sql("SELECT * FROM voter_counts").collect()],
    key=lambda x: (x[0] is not None, x[0] or "", x[1] is not None, x[1] or ""),
)

def jvm_usage():
    """CPU seconds and peak RSS (MB) of the Spark JVM this script started: a
    child that is not reaped before Python exits, so the caller's rusage
    would not count it."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from measure import proc_usage  # scripts/bench/measure.py

    try:
        return proc_usage(spark.sparkContext._gateway.proc.pid)
    except (AttributeError, OSError, ValueError, IndexError):
        return None, None


jvm_cpu_s, jvm_rss_mb = jvm_usage()
print(json.dumps({
    "engine": "spark " + spark.version,
    "jvm_cpu_s": jvm_cpu_s,
    "jvm_rss_mb": jvm_rss_mb,
    "rows": rows,
    "batches": len(progress),
    "startup_s": t_session - t0,
    "query_s": t_end - t_start,
    "batches_s": batch_ms / 1000.0,
    "total_s": t_end - t0,
    "table": table,
}))
spark.stop()
