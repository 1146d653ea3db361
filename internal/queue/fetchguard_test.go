package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/nerstream/nerstream/internal/broker"
)

// rawBatch encodes a v2 record batch with the given declared record count
// and records section, with a valid length and CRC.
func rawBatch(numRecords int32, records []byte) []byte {
	b := kmsg.RecordBatch{Magic: 2, NumRecords: numRecords, LastOffsetDelta: numRecords - 1, Records: records,
		FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// record encodes one v2 record with the given value and header count
// (headers themselves are empty key/value pairs).
func record(value string, headers int) []byte {
	var body []byte
	body = append(body, 0)               // attributes
	body = binary.AppendVarint(body, 0)  // timestamp delta
	body = binary.AppendVarint(body, 0)  // offset delta
	body = binary.AppendVarint(body, -1) // null key
	body = binary.AppendVarint(body, int64(len(value)))
	body = append(body, value...)
	body = binary.AppendVarint(body, int64(headers))
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func TestWalkRecordsRefusesCountsTheBytesCannotBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int32
		records []byte
		want    string // "" = accepted
	}{
		{"one record", 1, record("abc", 0), ""},
		{"two records", 2, append(record("a", 0), record("b", 0)...), ""},
		{"empty batch, zero records", 0, nil, ""},
		{"2^31-1 records in no bytes", 1<<31 - 1, nil, "the batch ends first"},
		{"two declared, one present", 2, record("a", 0), "record 1 of 2: the batch ends first"},
		{"negative count", -1, nil, "negative record count"},
		{"header count past the record", 1, record("a", 1<<40), "headers in"},
		{"value length past the record", 1, valuePastEnd(), "value length 100"},
		{"record length below the minimum", 1, []byte{2, 0}, "below the 7-byte minimum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := walkRecords(bufio.NewReader(bytes.NewReader(tc.records)), tc.n)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("walkRecords = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCorruptCountBatchIsReportedStuck: a 61-byte batch whose header claims
// 2³¹−1 records (kfake stores it as sent) used to kill the worker with
// "runtime: out of memory" inside kafka-go. The record before it is
// delivered, the partition is reported stuck at the batch with
// ErrCorruptBatch, and the process lives on.
func TestCorruptCountBatchIsReportedStuck(t *testing.T) {
	addrs := startBroker(t, broker.WithTopic("bad", 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: "bad", RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("good")}); err != nil {
		t.Fatal(err)
	}
	bad := rawBatch(1<<31-1, nil)
	if len(bad) != 61 {
		t.Fatalf("corrupt batch is %d bytes, want 61", len(bad))
	}
	produceRaw(ctx, t, addrs, "bad", bad)

	type report struct {
		offset int64
		err    error
	}
	stuck := make(chan report, 1)
	g, err := NewGroup(addrs, "bad", "g-bad", fastGroup(WithFrom(FromEarliest),
		WithStuckReporter(300*time.Millisecond, func(_ int, off int64, s bool, err error) {
			if s {
				select {
				case stuck <- report{off, err}:
				default:
				}
			}
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecHandler("bad")
	go g.Run(ctx, h)
	select {
	case r := <-stuck:
		if !errors.Is(r.err, ErrCorruptBatch) || r.offset != 1 {
			t.Fatalf("stuck at offset %d for %v, want offset 1 and ErrCorruptBatch", r.offset, r.err)
		}
		t.Logf("reported stuck: %v", r.err)
	case <-ctx.Done():
		t.Fatal("the corrupt batch was not reported")
	}
	if h.total() != 1 || string(h.recs[0][0].Value) != "good" {
		t.Fatalf("delivered %d records, want the good one before the corrupt batch", h.total())
	}
}

// produceRaw writes one record batch exactly as given.
func produceRaw(ctx context.Context, t *testing.T, addrs []string, topic string, batch []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.MaxVersions(kversion.V3_0_0())) // produce by topic name
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("raw produce: %v", kafka.Error(code))
	}
}

// TestFetchDecompressedBytesAreBoundedAsAWhole: three compressed batches of
// 600 KB each, with a 1 MiB bound per fetch, arrive one fetch at a time and
// all of them arrive.
func TestFetchDecompressedBytesAreBoundedAsAWhole(t *testing.T) {
	addrs := startBroker(t, broker.WithTopic("big", 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: "big", Compression: kafka.Zstd, BatchSize: 1, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	for i := range 3 {
		if err := w.WriteMessages(ctx, kafka.Message{Value: bytes.Repeat([]byte{'a' + byte(i)}, 600<<10)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		bound     int64
		wantCalls int
	}{{1 << 20, 3}, {8 << 20, 1}} {
		g, err := NewGroup(addrs, "big", fmt.Sprintf("g-big-%d", tc.bound), fastGroup(WithFrom(FromEarliest), WithMaxFetchDecompressedBytes(tc.bound))...)
		if err != nil {
			t.Fatal(err)
		}
		h := newRecHandler("big")
		stop := runGroup(t, g, h)
		waitFor(t, 30*time.Second, "three records", func() bool { return h.total() == 3 })
		stop()
		calls := 0
		h.mu.Lock()
		calls = len(h.calls)
		h.mu.Unlock()
		if calls != tc.wantCalls {
			t.Fatalf("bound %d: %d Records calls with records, want %d", tc.bound, calls, tc.wantCalls)
		}
	}
}

// valuePastEnd is a record whose value length (100) runs past its end.
func valuePastEnd() []byte {
	body := []byte{0, 0, 0, 1}            // attributes, deltas, null key (varint -1)
	body = binary.AppendVarint(body, 100) // value length
	body = append(body, 'x', 0)           // one value byte, then headers 0
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// FuzzCheckBatches: the guard never panics on a fetched record set, keeps
// a prefix of it, and refuses (keeping nothing) any first batch whose
// records the bytes cannot back.
func FuzzCheckBatches(f *testing.F) {
	f.Add(rawBatch(1, record("abc", 0)))
	f.Add(rawBatch(1<<31-1, nil))
	f.Add(append(rawBatch(1, record("a", 0)), rawBatch(2, record("b", 1))...))
	fg := newFetchGuard(1<<20, 1<<20)
	f.Fuzz(func(t *testing.T, rb []byte) {
		keep, err := fg.checkBatches(rb)
		if keep < 0 || keep > len(rb) {
			t.Fatalf("keep %d of %d bytes", keep, len(rb))
		}
		if err != nil && !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrDecompressionBomb) {
			t.Fatalf("error %v wraps neither ErrCorruptBatch nor ErrDecompressionBomb", err)
		}
	})
}
