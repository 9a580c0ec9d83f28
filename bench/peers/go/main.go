// franzbench: the franz-go (github.com/twmb/franz-go, pkg/kgo) peer program of
// the issue 20 benchmark harness. It implements the contract of
// bench/peers/README.md (produce, consume, e2e, group) and prints exactly one
// JSON line on stdout; any error is one line on stderr and exit status 1.
//
//	franzbench produce --bootstrap B --topic T --records N --size S --compression none|lz4|zstd
//	                   [--rate R] [--linger-ms L] [--no-idempotence]
//	franzbench consume --bootstrap B --topic T --records N
//	franzbench e2e     --bootstrap B --topic T --records N --size S --rate R
//	franzbench group   --bootstrap B --topic T --group G --records N
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	clientName     = "franz-go"
	clientVersion  = "v1.22.3"
	poolLen        = 65536
	batchMaxBytes  = 1_000_000
	maxBuffered    = 10_000_000 // records; default 50,000 (the contract: never block on the buffer)
	e2eStampDigits = 20
	// stallTimeout fails a consuming workload that receives nothing for this
	// long (a missing topic or fewer records than --records), instead of hanging.
	stallTimeout = 60 * time.Second
)

// processStart is the origin of the monotonic clock whose readings e2e writes
// into the values (time.Since uses Go's monotonic clock).
var processStart = time.Now()

var pool = func() []byte {
	p := make([]byte, poolLen)
	for j := uint64(0); j < poolLen; j++ {
		p[j] = byte('a' + (j*j*31+j*7)%26)
	}
	return p
}()

// value returns the contract's value of record i: the 12-digit zero-padded
// decimal i followed by pool[off .. off+size-12], off = (i*89) % 32768.
func value(i int64, size int) []byte {
	v := make([]byte, size)
	putDigits(v[:12], uint64(i))
	off := (i * 89) % 32768
	copy(v[12:], pool[off:off+int64(size)-12])
	return v
}

// putDigits writes n as len(dst) zero-padded decimal digits.
func putDigits(dst []byte, n uint64) {
	for k := len(dst) - 1; k >= 0; k-- {
		dst[k] = byte('0' + n%10)
		n /= 10
	}
}

func fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "franzbench: "+strings.ReplaceAll(msg, "\n", " "))
	os.Exit(1)
}

// obj is a JSON object that keeps its keys in insertion order.
type obj []kv
type kv struct {
	k string
	v any
}

// ms3 is a millisecond figure printed with 3 decimals.
type ms3 float64

func (o obj) write(w io.Writer) {
	var b strings.Builder
	o.encode(&b)
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

func (o obj) encode(b *strings.Builder) {
	b.WriteByte('{')
	for n, e := range o {
		if n > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		switch v := e.v.(type) {
		case obj:
			v.encode(b)
		case ms3:
			b.WriteString(strconv.FormatFloat(float64(v), 'f', 3, 64))
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'f', 6, 64))
		default:
			j, err := json.Marshal(v)
			if err != nil {
				fail("json: %v", err)
			}
			b.Write(j)
		}
	}
	b.WriteByte('}')
}

// percentiles: sort, p = samples[min(len-1, floor(q*len))].
func percentiles(samples []time.Duration, withMax bool) obj {
	if len(samples) == 0 {
		fail("no latency samples")
	}
	sort.Slice(samples, func(a, b int) bool { return samples[a] < samples[b] })
	at := func(q float64) ms3 {
		idx := int(math.Floor(q * float64(len(samples))))
		if idx > len(samples)-1 {
			idx = len(samples) - 1
		}
		return ms3(float64(samples[idx]) / 1e6)
	}
	o := obj{{"p50", at(0.5)}, {"p99", at(0.99)}, {"p999", at(0.999)}}
	if withMax {
		o = append(o, kv{"max", ms3(float64(samples[len(samples)-1]) / 1e6)})
	}
	return o
}

type args struct {
	bootstrap   string
	topic       string
	group       string
	records     int64
	size        int
	compression string
	rate        float64
	lingerMs    float64
	noIdem      bool
}

func parse(workload string, argv []string) args {
	fs := flag.NewFlagSet(workload, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var a args
	fs.StringVar(&a.bootstrap, "bootstrap", "", "")
	fs.StringVar(&a.topic, "topic", "", "")
	fs.Int64Var(&a.records, "records", 0, "")
	switch workload {
	case "produce":
		fs.IntVar(&a.size, "size", 0, "")
		fs.StringVar(&a.compression, "compression", "none", "")
		fs.Float64Var(&a.rate, "rate", 0, "")
		fs.Float64Var(&a.lingerMs, "linger-ms", 5, "")
		fs.BoolVar(&a.noIdem, "no-idempotence", false, "")
	case "e2e":
		fs.IntVar(&a.size, "size", 0, "")
		fs.Float64Var(&a.rate, "rate", 0, "")
	case "group":
		fs.StringVar(&a.group, "group", "", "")
	}
	if err := fs.Parse(argv); err != nil {
		fail("%s: %v", workload, err)
	}
	if fs.NArg() > 0 {
		fail("%s: unexpected argument %q", workload, fs.Arg(0))
	}
	if a.bootstrap == "" || a.topic == "" || a.records <= 0 {
		fail("%s: --bootstrap, --topic and --records (> 0) are required", workload)
	}
	switch workload {
	case "produce":
		if a.size < 12 || a.size > 32768+12 {
			fail("produce: --size must be in 12..32780")
		}
	case "e2e":
		if a.size < e2eStampDigits || a.size > 32768+12 || a.rate <= 0 {
			fail("e2e: --size in 20..32780 and --rate > 0 are required")
		}
	case "group":
		if a.group == "" {
			fail("group: --group is required")
		}
	}
	return a
}

func seeds(b string) kgo.Opt { return kgo.SeedBrokers(strings.Split(b, ",")...) }

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	fail("unknown --compression %q (none|lz4|zstd)", name)
	return kgo.NoCompression()
}

// producerOpts: acks=all, idempotence (franz-go's default) unless disabled,
// linger, 1,000,000-byte batches, the codec at its default level, and a
// record buffer that never blocks Produce at benchmark sizes. With
// idempotence franz-go allows 5 produce requests in flight per broker (Kafka
// >= 1.0); without it the default is 1, so 5 is set explicitly.
func producerOpts(lingerMs float64, comp string, noIdem bool) ([]kgo.Opt, string) {
	linger := time.Duration(lingerMs * float64(time.Millisecond))
	opts := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(batchMaxBytes),
		kgo.ProducerBatchCompression(codec(comp)),
		kgo.MaxBufferedRecords(maxBuffered),
	}
	idem := "idempotent (default)"
	if noIdem {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
		idem = "DisableIdempotentWrite"
	}
	cfg := fmt.Sprintf("%s %s kgo: RequiredAcks(AllISRAcks), %s, MaxProduceRequestsInflightPerBroker=5, ProducerLinger=%s, ProducerBatchMaxBytes=%d, ProducerBatchCompression(%s, default level), MaxBufferedRecords=%d, partitioner default (UniformBytes 64KiB sticky), Produce with promise callback",
		clientName, clientVersion, idem, linger, batchMaxBytes, comp, maxBuffered)
	return opts, cfg
}

// partitionCount asks the cluster for the number of partitions of topic.
func partitionCount(ctx context.Context, cl *kgo.Client, topic string) int32 {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		fail("metadata: %v", err)
	}
	if len(resp.Topics) != 1 {
		fail("metadata: %d topics in the answer", len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		fail("metadata for %s: %v", topic, err)
	}
	n := int32(len(resp.Topics[0].Partitions))
	if n == 0 {
		fail("metadata: topic %s has no partitions", topic)
	}
	return n
}

// endOffsets lists the latest offset of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, n int32) map[int32]kgo.Offset {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < n; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		fail("list offsets: %v", err)
	}
	out := make(map[int32]kgo.Offset, n)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				fail("list offsets %s/%d: %v", topic, p.Partition, err)
			}
			out[p.Partition] = kgo.NewOffset().At(p.Offset)
		}
	}
	if int32(len(out)) != n {
		fail("list offsets: %d of %d partitions answered", len(out), n)
	}
	return out
}

// poll is PollFetches bounded by stallTimeout; any fetch error is fatal.
func poll(cl *kgo.Client, got int64) kgo.Fetches {
	ctx, cancel := context.WithTimeout(context.Background(), stallTimeout)
	defer cancel()
	fs := cl.PollFetches(ctx)
	for _, e := range fs.Errors() {
		if ctx.Err() != nil {
			fail("no record for %s after %d records", stallTimeout, got)
		}
		fail("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
	}
	return fs
}

// ---------------------------------------------------------------- produce

func produce(a args) {
	opts, cfg := producerOpts(a.lingerMs, a.compression, a.noIdem)
	opts = append(opts, seeds(a.bootstrap), kgo.DefaultProduceTopic(a.topic))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	ctx := context.Background()

	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(int(a.records))
	onErr := func(err error) {
		if errs.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}

	var lat []time.Duration
	var start time.Time
	if a.rate <= 0 {
		promise := func(_ *kgo.Record, err error) {
			if err != nil {
				onErr(err)
			}
			wg.Done()
		}
		start = time.Now()
		for i := int64(0); i < a.records; i++ {
			cl.Produce(ctx, &kgo.Record{Value: value(i, a.size)}, promise)
		}
	} else {
		lat = make([]time.Duration, a.records)
		start = time.Now()
		for i := int64(0); i < a.records; i++ {
			due := start.Add(time.Duration(float64(i) / a.rate * 1e9))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			r := &kgo.Record{Value: value(i, a.size)}
			idx := i
			t0 := time.Now()
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				lat[idx] = time.Since(t0)
				if err != nil {
					onErr(err)
				}
				wg.Done()
			})
		}
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()

	out := obj{
		{"client", clientName}, {"workload", "produce"}, {"records", a.records},
		{"bytes", a.records * int64(a.size)}, {"seconds", seconds}, {"errors", errs.Load()},
	}
	if a.rate > 0 {
		out = append(out, kv{"latency_ms", percentiles(lat, false)})
		cfg += fmt.Sprintf(", rate=%g/s", a.rate)
	}
	out = append(out, kv{"config", cfg})
	out.write(os.Stdout)
	if n := errs.Load(); n > 0 {
		fail("%d records failed, first: %v", n, firstErr.Load())
	}
}

// ---------------------------------------------------------------- consume

// consume assigns every partition of the topic from the earliest offset to a
// group-less kgo client (ConsumePartitions/AddConsumePartitions) and polls
// until N records have arrived.
func consume(a args) {
	ctx := context.Background()
	// A direct consumer must be configured at NewClient; the partitions are
	// added once the metadata request on the same client has counted them, so
	// the timer starts with the connection already up (as with the Java
	// consumer's partitionsFor before assign).
	cl, err := kgo.NewClient(seeds(a.bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: {}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	n := partitionCount(ctx, cl, a.topic)
	parts := make(map[int32]kgo.Offset, n)
	for p := int32(0); p < n; p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}

	start := time.Now()
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: parts})
	var count, bytes int64
	var sum uint64
	for count < a.records {
		fs := poll(cl, count)
		fs.EachRecord(func(r *kgo.Record) {
			if count >= a.records {
				return
			}
			count++
			bytes += int64(len(r.Value))
			for _, c := range r.Value {
				sum += uint64(c)
			}
		})
	}
	seconds := time.Since(start).Seconds()
	obj{
		{"client", clientName}, {"workload", "consume"}, {"records", count}, {"bytes", bytes},
		{"checksum", sum}, {"seconds", seconds},
		{"config", fmt.Sprintf("%s %s kgo: ConsumePartitions (manual assignment of %d partitions, AtStart), no group, FetchIsolationLevel(ReadUncommitted), PollFetches, default fetch settings (FetchMaxBytes 50MiB, FetchMaxPartitionBytes 1MiB, FetchMaxWait 5s, unbounded concurrent fetches)", clientName, clientVersion, n)},
	}.write(os.Stdout)
}

// ---------------------------------------------------------------- e2e

func e2e(a args) {
	ctx := context.Background()
	popts, pcfg := producerOpts(0, "none", false)
	popts = append(popts, seeds(a.bootstrap), kgo.DefaultProduceTopic(a.topic))
	prod, err := kgo.NewClient(popts...)
	if err != nil {
		fail("producer: %v", err)
	}
	defer prod.Close()

	cons, err := kgo.NewClient(seeds(a.bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: {}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		fail("consumer: %v", err)
	}
	defer cons.Close()
	n := partitionCount(ctx, cons, a.topic)
	ends := endOffsets(ctx, cons, a.topic, n) // captured before producing
	cons.AddConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: ends})

	// The consumer runs in its own goroutine; the producer sends at the rate.
	lat := make([]time.Duration, 0, a.records)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for int64(len(lat)) < a.records {
			fs := poll(cons, int64(len(lat)))
			now := time.Since(processStart)
			fs.EachRecord(func(r *kgo.Record) {
				if int64(len(lat)) >= a.records {
					return
				}
				if len(r.Value) < e2eStampDigits {
					fail("e2e: short value (%d bytes)", len(r.Value))
				}
				sent, err := strconv.ParseInt(string(r.Value[:e2eStampDigits]), 10, 64)
				if err != nil {
					fail("e2e: value without a timestamp: %v", err)
				}
				lat = append(lat, now-time.Duration(sent))
			})
		}
	}()

	var errs atomic.Int64
	var firstErr atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil && errs.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}
	start := time.Now()
	for i := int64(0); i < a.records; i++ {
		due := start.Add(time.Duration(float64(i) / a.rate * 1e9))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		v := make([]byte, a.size)
		off := (i * 89) % 32768
		copy(v[e2eStampDigits:], pool[off:off+int64(a.size)-e2eStampDigits])
		putDigits(v[:e2eStampDigits], uint64(time.Since(processStart)))
		prod.Produce(ctx, &kgo.Record{Value: v}, promise)
	}
	if err := prod.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	if n := errs.Load(); n > 0 {
		fail("%d records failed, first: %v", n, firstErr.Load())
	}
	<-done
	obj{
		{"client", clientName}, {"workload", "e2e"}, {"records", int64(len(lat))},
		{"latency_ms", percentiles(lat, true)},
		{"config", fmt.Sprintf("producer: %s; consumer: ConsumePartitions at the end offsets listed before producing, ReadUncommitted, default fetch settings; rate=%g/s", pcfg, a.rate)},
	}.write(os.Stdout)
}

// ---------------------------------------------------------------- group

// group: ConsumerGroup + ConsumeTopics with franz-go's defaults: the classic
// group protocol (JoinGroup/SyncGroup; KIP-848 only with ServerSideBalancer)
// and the cooperative-sticky balancer. Auto-commit is disabled.
func group(a args) {
	start := time.Now()
	cl, err := kgo.NewClient(seeds(a.bootstrap),
		kgo.ConsumerGroup(a.group),
		kgo.ConsumeTopics(a.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.DisableAutoCommit())
	if err != nil {
		fail("client: %v", err)
	}
	var count, bytes int64
	var sum uint64
	var joinMs float64
	for count < a.records {
		fs := poll(cl, count)
		fs.EachRecord(func(r *kgo.Record) {
			if count >= a.records {
				return
			}
			if count == 0 {
				joinMs = float64(time.Since(start)) / 1e6
			}
			count++
			bytes += int64(len(r.Value))
			for _, c := range r.Value {
				sum += uint64(c)
			}
		})
	}
	seconds := time.Since(start).Seconds()
	// Leave the group cleanly (LeaveGroup), then close.
	cl.LeaveGroup()
	cl.Close()
	obj{
		{"client", clientName}, {"workload", "group"}, {"records", count}, {"bytes", bytes},
		{"checksum", sum}, {"join_ms", ms3(joinMs)}, {"seconds", seconds},
		{"config", fmt.Sprintf("%s %s kgo: ConsumerGroup + ConsumeTopics, classic group protocol (franz-go default; KIP-848 only with ServerSideBalancer), default balancer cooperative-sticky, ConsumeResetOffset(AtStart)=earliest, DisableAutoCommit (no commits), ReadUncommitted, default fetch settings, LeaveGroup at the end", clientName, clientVersion)},
	}.write(os.Stdout)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: franzbench produce|consume|e2e|group --bootstrap B --topic T --records N ...")
	}
	w := os.Args[1]
	a := parse(w, os.Args[2:])
	switch w {
	case "produce":
		produce(a)
	case "consume":
		consume(a)
	case "e2e":
		e2e(a)
	case "group":
		group(a)
	default:
		fail("unknown workload %q (produce|consume|e2e|group)", w)
	}
}
