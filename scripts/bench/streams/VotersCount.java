// The guide's grouped count as a Kafka Streams application: the peer of
// `kwire stream --application-id ... --processing-guarantee exactly_once_v2`
// in scripts/bench/stream_scaleout.py.
//
//   java -cp 'libs/*:.' VotersCount BOOTSTRAP INPUT OUTPUT APPLICATION_ID
//
// Each value is parsed as JSON (Jackson); the grouping key is the JSON object
// {"gender":..,"party":..} of its string fields (absent when the value is not
// an object or the field is missing or null, as kwire's key leaves NULLs out),
// the count goes to OUTPUT as {"gender":..,"party":..,"count":n} keyed the
// same way: the same topology kwire's distributed mode writes (a repartition
// topic, a changelog, exactly_once_v2, commit.interval.ms 100). The store is
// in memory (no RocksDB), like kwire's.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

public class VotersCount {
  static final ObjectMapper JSON = new ObjectMapper();

  static String key(byte[] value) {
    ObjectNode k = JSON.createObjectNode();
    try {
      JsonNode v = value == null ? null : JSON.readTree(value);
      if (v != null && v.isObject()) {
        for (String f : new String[] {"gender", "party"}) {
          JsonNode x = v.get(f);
          if (x != null && !x.isNull()) {
            k.put(f, x.isValueNode() ? x.asText() : x.toString());
          }
        }
      }
    } catch (Exception e) {
      // not JSON: every field NULL (Spark's PERMISSIVE from_json)
    }
    return k.toString();
  }

  static String row(String key, long count) {
    try {
      ObjectNode r = (ObjectNode) JSON.readTree(key);
      r.put("count", count);
      return r.toString();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    StreamsBuilder b = new StreamsBuilder();
    b.stream(args[1], Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .groupBy((k, v) -> key(v), Grouped.with("voters", Serdes.String(), Serdes.ByteArray()))
        .count(
            Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("counts"))
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long()))
        .toStream()
        .mapValues((k, c) -> row(k, c))
        .to(args[2], Produced.with(Serdes.String(), Serdes.String()));
    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  streams.close();
                  done.countDown();
                }));
    streams.start();
    done.await();
  }
}
