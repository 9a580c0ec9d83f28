// JavaBench: the Kafka Java client (org.apache.kafka:kafka-clients 4.4.0) peer
// program of the issue 20 benchmark harness. It implements the contract of
// bench/peers (produce, consume, e2e, group) and prints exactly one JSON line on
// stdout; any error is one line on stderr and exit status 1. Run it with
// bench/peers/java/run.sh, which builds the jar if needed.
//
//   run.sh produce --bootstrap B --topic T --records N --size S --compression none|lz4|zstd
//                  [--rate R] [--linger-ms L] [--no-idempotence]
//   run.sh consume --bootstrap B --topic T --records N
//   run.sh e2e     --bootstrap B --topic T --records N --size S --rate R
//   run.sh group   --bootstrap B --topic T --group G --records N [--group-protocol classic|consumer]

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class JavaBench {
    static final String CLIENT = "kafka-java";
    static final int POOL_LEN = 65536;
    static final int BATCH_SIZE = 1_000_000;
    /** buffer.memory: 1 GiB (default 32 MiB) so send() never blocks on the pool at benchmark sizes. */
    static final long BUFFER_MEMORY = 1L << 30;
    static final int STAMP_DIGITS = 20;
    /** Origin of the monotonic clock whose readings e2e writes into the values. */
    static final long PROCESS_START = System.nanoTime();
    static final byte[] POOL = new byte[POOL_LEN];

    static {
        for (long j = 0; j < POOL_LEN; j++) {
            POOL[(int) j] = (byte) ('a' + (j * j * 31 + j * 7) % 26);
        }
    }

    // ------------------------------------------------------------ helpers

    static final class Fail extends RuntimeException {
        Fail(String m) { super(m); }
    }

    static Fail fail(String fmt, Object... args) {
        return new Fail(String.format(Locale.ROOT, fmt, args));
    }

    /** The contract's value of record i: 12-digit zero-padded i, then POOL[off .. off+size-12]. */
    static byte[] value(long i, int size) {
        byte[] v = new byte[size];
        putDigits(v, 12, i);
        int off = (int) ((i * 89) % 32768);
        System.arraycopy(POOL, off, v, 12, size - 12);
        return v;
    }

    static void putDigits(byte[] dst, int width, long n) {
        for (int k = width - 1; k >= 0; k--) {
            dst[k] = (byte) ('0' + n % 10);
            n /= 10;
        }
    }

    /** A JSON object that keeps its keys in insertion order. */
    static final class Json {
        final StringBuilder b = new StringBuilder("{");

        Json raw(String k, String v) {
            if (b.length() > 1) b.append(',');
            b.append(str(k)).append(':').append(v);
            return this;
        }
        Json put(String k, String v) { return raw(k, str(v)); }
        Json put(String k, long v) { return raw(k, Long.toString(v)); }
        Json putUnsigned(String k, long v) { return raw(k, Long.toUnsignedString(v)); }
        Json seconds(String k, double v) { return raw(k, String.format(Locale.ROOT, "%.6f", v)); }
        Json ms(String k, double v) { return raw(k, String.format(Locale.ROOT, "%.3f", v)); }
        Json obj(String k, Json o) { return raw(k, o.toString()); }
        @Override public String toString() { return b.toString() + "}"; }

        static String str(String s) {
            StringBuilder o = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"': o.append("\\\""); break;
                    case '\\': o.append("\\\\"); break;
                    default:
                        if (c < 0x20) o.append(String.format("\\u%04x", (int) c));
                        else o.append(c);
                }
            }
            return o.append('"').toString();
        }
    }

    /** Sort; p = samples[min(len-1, floor(q*len))]; ms with 3 decimals. */
    static Json percentiles(long[] nanos, int len, boolean withMax) {
        if (len == 0) throw fail("no latency samples");
        long[] s = Arrays.copyOf(nanos, len);
        Arrays.sort(s);
        Json o = new Json();
        double[] qs = {0.5, 0.99, 0.999};
        String[] names = {"p50", "p99", "p999"};
        for (int k = 0; k < qs.length; k++) {
            int idx = (int) Math.min(len - 1, (long) Math.floor(qs[k] * len));
            o.ms(names[k], s[idx] / 1e6);
        }
        if (withMax) o.ms("max", s[len - 1] / 1e6);
        return o;
    }

    static String jvmFlags() {
        return String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments());
    }

    /** The version from kafka-clients' own kafka/kafka-version.properties. */
    static String kafkaVersion() {
        try (java.io.InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            Properties p = new Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    static String clientTag() {
        return "kafka-clients " + kafkaVersion() + " (JVM " + System.getProperty("java.version")
            + ", flags: " + jvmFlags() + ")";
    }

    // ------------------------------------------------------------ arguments

    static final class Args {
        String bootstrap, topic, group, compression = "none", groupProtocol = "classic";
        long records;
        int size;
        double rate, lingerMs = 5;
        boolean noIdempotence;
    }

    static Args parse(String workload, String[] argv) {
        Args a = new Args();
        List<String> allowed = new ArrayList<>(List.of("--bootstrap", "--topic", "--records"));
        switch (workload) {
            case "produce":
                allowed.addAll(List.of("--size", "--compression", "--rate", "--linger-ms", "--no-idempotence"));
                break;
            case "e2e":
                allowed.addAll(List.of("--size", "--rate"));
                break;
            case "group":
                allowed.addAll(List.of("--group", "--group-protocol"));
                break;
            case "consume":
                break;
            default:
                throw fail("unknown workload %s (produce|consume|e2e|group)", workload);
        }
        for (int i = 1; i < argv.length; i++) {
            String f = argv[i];
            String val = null;
            int eq = f.indexOf('=');
            if (f.startsWith("--") && eq > 0) {
                val = f.substring(eq + 1);
                f = f.substring(0, eq);
            }
            if (!allowed.contains(f)) throw fail("%s: unknown flag %s", workload, argv[i]);
            if (f.equals("--no-idempotence")) {
                a.noIdempotence = true;
                continue;
            }
            if (val == null) {
                if (i + 1 >= argv.length) throw fail("%s: %s needs a value", workload, f);
                val = argv[++i];
            }
            try {
                switch (f) {
                    case "--bootstrap": a.bootstrap = val; break;
                    case "--topic": a.topic = val; break;
                    case "--group": a.group = val; break;
                    case "--records": a.records = Long.parseLong(val); break;
                    case "--size": a.size = Integer.parseInt(val); break;
                    case "--compression": a.compression = val; break;
                    case "--rate": a.rate = Double.parseDouble(val); break;
                    case "--linger-ms": a.lingerMs = Double.parseDouble(val); break;
                    case "--group-protocol": a.groupProtocol = val; break;
                    default: throw fail("unhandled flag %s", f);
                }
            } catch (NumberFormatException e) {
                throw fail("%s: bad value for %s: %s", workload, f, val);
            }
        }
        if (a.bootstrap == null || a.topic == null || a.records <= 0) {
            throw fail("%s: --bootstrap, --topic and --records (> 0) are required", workload);
        }
        if (a.records > Integer.MAX_VALUE - 8) throw fail("--records too large");
        switch (workload) {
            case "produce":
                if (a.size < 12 || a.size > 32768 + 12) throw fail("produce: --size must be in 12..32780");
                if (!List.of("none", "lz4", "zstd").contains(a.compression)) {
                    throw fail("unknown --compression %s (none|lz4|zstd)", a.compression);
                }
                break;
            case "e2e":
                if (a.size < STAMP_DIGITS || a.size > 32768 + 12 || a.rate <= 0) {
                    throw fail("e2e: --size in 20..32780 and --rate > 0 are required");
                }
                break;
            case "group":
                if (a.group == null) throw fail("group: --group is required");
                if (!List.of("classic", "consumer").contains(a.groupProtocol)) {
                    throw fail("group: --group-protocol classic|consumer");
                }
                break;
            default:
                break;
        }
        return a;
    }

    // ------------------------------------------------------------ clients

    /** acks=all, idempotence unless disabled, linger, 1,000,000-byte batches, 5 in flight,
     *  the codec at its default level, a 1 GiB buffer; default partitioner (built-in sticky). */
    static Properties producerProps(String bootstrap, double lingerMs, String compression, boolean idem) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, Boolean.toString(idem));
        p.put(ProducerConfig.LINGER_MS_CONFIG, Long.toString(Math.round(lingerMs)));
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(BATCH_SIZE));
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(BUFFER_MEMORY));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    static String producerConfig(double lingerMs, String compression, boolean idem) {
        return String.format(Locale.ROOT,
            "KafkaProducer: acks=all, enable.idempotence=%s, max.in.flight.requests.per.connection=5, linger.ms=%d, "
            + "batch.size=%d, max.request.size=1048576 (default), compression.type=%s (default level), "
            + "buffer.memory=%d, partitioner default (built-in sticky, adaptive), send() with Callback",
            idem, Math.round(lingerMs), BATCH_SIZE, compression, BUFFER_MEMORY);
    }

    static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return p;
    }

    static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic) {
        List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(30));
        if (infos == null || infos.isEmpty()) throw fail("metadata: topic %s has no partitions", topic);
        List<TopicPartition> tps = new ArrayList<>();
        for (PartitionInfo pi : infos) tps.add(new TopicPartition(topic, pi.partition()));
        return tps;
    }

    static final Duration POLL = Duration.ofMillis(100);
    /** A consuming workload that receives nothing for this long fails instead of hanging. */
    static final long STALL_NANOS = 60_000_000_000L;

    /** poll(100 ms); fails when no record arrived for STALL_NANOS since {@code since[0]}. */
    static ConsumerRecords<byte[], byte[]> poll(KafkaConsumer<byte[], byte[]> c, long[] since, long got) {
        ConsumerRecords<byte[], byte[]> recs = c.poll(POLL);
        long now = System.nanoTime();
        if (!recs.isEmpty()) {
            since[0] = now;
        } else if (now - since[0] > STALL_NANOS) {
            throw fail("no record for 60 s after %d records", got);
        }
        return recs;
    }

    // ------------------------------------------------------------ produce

    static void produce(Args a) throws Exception {
        boolean idem = !a.noIdempotence;
        String cfg = clientTag() + "; " + producerConfig(a.lingerMs, a.compression, idem);
        int n = (int) a.records;
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstErr = new AtomicReference<>();
        CountDownLatch acked = new CountDownLatch(n);
        long[] lat = a.rate > 0 ? new long[n] : null;
        long start;
        double seconds;
        try (KafkaProducer<byte[], byte[]> prod =
                 new KafkaProducer<>(producerProps(a.bootstrap, a.lingerMs, a.compression, idem))) {
            if (a.rate <= 0) {
                Callback cb = (md, e) -> {
                    if (e != null && errors.incrementAndGet() == 1) firstErr.set(e.toString());
                    acked.countDown();
                };
                start = System.nanoTime();
                for (long i = 0; i < n; i++) {
                    prod.send(new ProducerRecord<>(a.topic, value(i, a.size)), cb);
                }
            } else {
                start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    long due = start + (long) (i / a.rate * 1e9);
                    long wait = due - System.nanoTime();
                    if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(a.topic, value(i, a.size));
                    final int idx = i;
                    final long t0 = System.nanoTime();
                    prod.send(r, (md, e) -> {
                        lat[idx] = System.nanoTime() - t0;
                        if (e != null && errors.incrementAndGet() == 1) firstErr.set(e.toString());
                        acked.countDown();
                    });
                }
            }
            acked.await();
            seconds = (System.nanoTime() - start) / 1e9; // first send to last ack, before close()
        }
        Json out = new Json().put("client", CLIENT).put("workload", "produce").put("records", n)
            .put("bytes", (long) n * a.size).seconds("seconds", seconds).put("errors", errors.get());
        if (lat != null) {
            out.obj("latency_ms", percentiles(lat, n, false));
            cfg += String.format(Locale.ROOT, ", rate=%s/s", fmtRate(a.rate));
        }
        out.put("config", cfg);
        System.out.println(out);
        if (errors.get() > 0) throw fail("%d records failed, first: %s", errors.get(), firstErr.get());
    }

    static String fmtRate(double r) {
        return r == Math.rint(r) ? Long.toString((long) r) : Double.toString(r);
    }

    // ------------------------------------------------------------ consume

    static void consume(Args a) {
        Properties p = consumerProps(a.bootstrap);
        long count = 0, bytes = 0, sum = 0;
        int nparts;
        long start, end;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = partitions(c, a.topic);
            nparts = tps.size();
            start = System.nanoTime();
            c.assign(tps);
            c.seekToBeginning(tps);
            long[] since = {start};
            outer:
            while (true) {
                ConsumerRecords<byte[], byte[]> recs = poll(c, since, count);
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    byte[] v = r.value();
                    if (v != null) {
                        bytes += v.length;
                        for (byte x : v) sum += (x & 0xff);
                    }
                    if (++count >= a.records) break outer;
                }
            }
            end = System.nanoTime();
        }
        System.out.println(new Json().put("client", CLIENT).put("workload", "consume").put("records", count)
            .put("bytes", bytes).putUnsigned("checksum", sum).seconds("seconds", (end - start) / 1e9)
            .put("config", clientTag() + "; KafkaConsumer: assign(all " + nparts + " partitions) + seekToBeginning, "
                + "no group.id, enable.auto.commit=false, isolation.level=read_uncommitted, poll(100 ms), "
                + "default fetch settings (fetch.min.bytes=1, fetch.max.wait.ms=500, fetch.max.bytes=52428800, "
                + "max.partition.fetch.bytes=1048576, max.poll.records=500)"));
    }

    // ------------------------------------------------------------ e2e

    static void e2e(Args a) throws Exception {
        int n = (int) a.records;
        long[] lat = new long[n];
        int[] got = {0};
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstErr = new AtomicReference<>();
        AtomicReference<Throwable> consumerFailure = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(producerProps(a.bootstrap, 0, "none", true));
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(a.bootstrap))) {
            List<TopicPartition> tps = partitions(c, a.topic);
            Map<TopicPartition, Long> ends = c.endOffsets(tps, Duration.ofSeconds(30)); // before producing
            c.assign(tps);
            for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) c.seek(e.getKey(), e.getValue());

            Thread reader = new Thread(() -> {
                try {
                    long[] since = {System.nanoTime()};
                    while (got[0] < n) {
                        ConsumerRecords<byte[], byte[]> recs = poll(c, since, got[0]);
                        long now = System.nanoTime() - PROCESS_START;
                        for (ConsumerRecord<byte[], byte[]> r : recs) {
                            if (got[0] >= n) break;
                            byte[] v = r.value();
                            if (v == null || v.length < STAMP_DIGITS) throw fail("e2e: short value");
                            long sent = 0;
                            for (int k = 0; k < STAMP_DIGITS; k++) {
                                int d = v[k] - '0';
                                if (d < 0 || d > 9) throw fail("e2e: value without a timestamp");
                                sent = sent * 10 + d;
                            }
                            lat[got[0]++] = now - sent;
                        }
                    }
                } catch (Throwable t) {
                    consumerFailure.set(t);
                }
            }, "e2e-consumer");
            reader.start();

            Callback cb = (md, e) -> {
                if (e != null && errors.incrementAndGet() == 1) firstErr.set(e.toString());
            };
            long start = System.nanoTime();
            for (long i = 0; i < n; i++) {
                long due = start + (long) (i / a.rate * 1e9);
                long wait = due - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                byte[] v = new byte[a.size];
                int off = (int) ((i * 89) % 32768);
                System.arraycopy(POOL, off, v, STAMP_DIGITS, a.size - STAMP_DIGITS);
                putDigits(v, STAMP_DIGITS, System.nanoTime() - PROCESS_START);
                prod.send(new ProducerRecord<>(a.topic, v), cb);
            }
            prod.flush();
            if (errors.get() > 0) throw fail("%d records failed, first: %s", errors.get(), firstErr.get());
            reader.join();
            if (consumerFailure.get() != null) {
                Throwable t = consumerFailure.get();
                throw t instanceof Fail ? (Fail) t : fail("consumer: %s", t);
            }
        }
        System.out.println(new Json().put("client", CLIENT).put("workload", "e2e").put("records", got[0])
            .obj("latency_ms", percentiles(lat, got[0], true))
            .put("config", clientTag() + "; producer: " + producerConfig(0, "none", true)
                + "; consumer: assign + seek to the end offsets listed before producing, no group, "
                + "read_uncommitted, poll(100 ms), default fetch settings; rate=" + fmtRate(a.rate) + "/s"));
    }

    // ------------------------------------------------------------ group

    static void group(Args a) {
        long start = System.nanoTime();
        Properties p = consumerProps(a.bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, a.group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, a.groupProtocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        long count = 0, bytes = 0, sum = 0, first = 0, end;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(a.topic));
            long[] since = {start};
            outer:
            while (true) {
                ConsumerRecords<byte[], byte[]> recs = poll(c, since, count);
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    if (count == 0) first = System.nanoTime();
                    byte[] v = r.value();
                    if (v != null) {
                        bytes += v.length;
                        for (byte x : v) sum += (x & 0xff);
                    }
                    if (++count >= a.records) break outer;
                }
            }
            end = System.nanoTime();
        } // close() leaves the group
        String assignor = a.groupProtocol.equals("classic")
            ? "partition.assignment.strategy default [RangeAssignor, CooperativeStickyAssignor] (range chosen)"
            : "group.remote.assignor broker default (uniform)";
        System.out.println(new Json().put("client", CLIENT).put("workload", "group").put("records", count)
            .put("bytes", bytes).putUnsigned("checksum", sum).ms("join_ms", (first - start) / 1e6)
            .seconds("seconds", (end - start) / 1e9)
            .put("config", clientTag() + "; KafkaConsumer: subscribe, group.protocol=" + a.groupProtocol
                + " (the 4.x default is classic), " + assignor + ", auto.offset.reset=earliest, "
                + "enable.auto.commit=false (no commits), read_uncommitted, poll(100 ms), default fetch settings, "
                + "close() leaves the group"));
    }

    // ------------------------------------------------------------ main

    public static void main(String[] argv) {
        int status = 0;
        try {
            if (argv.length < 1) throw fail("usage: JavaBench produce|consume|e2e|group --bootstrap B --topic T --records N ...");
            Args a = parse(argv[0], argv);
            switch (argv[0]) {
                case "produce": produce(a); break;
                case "consume": consume(a); break;
                case "e2e": e2e(a); break;
                case "group": group(a); break;
                default: throw fail("unknown workload %s", argv[0]);
            }
        } catch (Fail f) {
            System.err.println("javabench: " + f.getMessage().replace('\n', ' '));
            status = 1;
        } catch (Throwable t) {
            System.err.println("javabench: " + t.toString().replace('\n', ' '));
            status = 1;
        }
        System.out.flush();
        System.exit(status);
    }
}
