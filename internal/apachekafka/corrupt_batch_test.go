package apachekafka_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/broker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := apachekafka.StopShared(code != 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// recordBatch builds an uncompressed v2 RecordBatch (magic 2) holding
// records (already encoded), whose header claims count records and
// lastOffsetDelta, with a valid CRC-32C over everything after the CRC field.
// With no records it is the 61-byte header alone.
func recordBatch(count, lastOffsetDelta int32, records []byte) []byte {
	now := time.Now().UnixMilli()
	b := make([]byte, 61, 61+len(records))
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)                          // baseOffset
	be.PutUint32(b[8:], uint32(61-12+len(records))) // batchLength: from partitionLeaderEpoch on
	be.PutUint32(b[12:], math.MaxUint32)            // partitionLeaderEpoch -1
	b[16] = 2                                       // magic
	be.PutUint16(b[21:], 0)                         // attributes: no compression, CreateTime
	be.PutUint32(b[23:], uint32(lastOffsetDelta))   // lastOffsetDelta
	be.PutUint64(b[27:], uint64(now))               // baseTimestamp
	be.PutUint64(b[35:], uint64(now))               // maxTimestamp
	be.PutUint64(b[43:], math.MaxUint64)            // producerId -1
	be.PutUint16(b[51:], math.MaxUint16)            // producerEpoch -1
	be.PutUint32(b[53:], math.MaxUint32)            // baseSequence -1
	be.PutUint32(b[57:], uint32(count))             // records count
	b = append(b, records...)
	be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// oneRecord encodes a record at offset delta 0 with a null key and value.
func oneRecord(value []byte) []byte {
	var body []byte
	body = append(body, 0)                              // attributes
	body = binary.AppendVarint(body, 0)                 // timestampDelta
	body = binary.AppendVarint(body, 0)                 // offsetDelta
	body = binary.AppendVarint(body, -1)                // key: null
	body = binary.AppendVarint(body, int64(len(value))) // value length
	body = append(body, value...)                       // value
	body = binary.AppendVarint(body, 0)                 // headers
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// produceRaw sends one Produce v8 request (acks=all) with batch as the
// records of topic's partition 0 on a plain connection, and returns the
// partition's error code and message.
func produceRaw(t *testing.T, addr, topic string, batch []byte) (int16, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := kmsg.NewPtrProduceRequest()
	req.Version = 8
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	const corrID = 7
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("nerstream-probe")).AppendRequest(nil, req, corrID)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("produce to %s: no response (connection closed?): %v", addr, err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corrID {
		t.Fatalf("correlation id %d, want %d", got, corrID)
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response without our partition: %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	msg := ""
	if p.ErrorMessage != nil {
		msg = *p.ErrorMessage
	}
	return p.ErrorCode, msg
}

// TestCorruptBatchClaimingMaxRecords is the probe of issue 23: a 61-byte v2
// batch with a valid CRC whose header claims 2^31-1 records (and none
// follow). kfake stores it, and kafka-go's decoder then runs out of memory
// on it; Apache Kafka refuses it at produce time. A valid one-record batch
// built the same way is accepted by both (the probe itself is sound).
func TestCorruptBatchClaimingMaxRecords(t *testing.T) {
	const topic = "probe"
	valid := recordBatch(1, 0, oneRecord([]byte("ok")))
	corrupt := recordBatch(math.MaxInt32, math.MaxInt32-1, nil)
	corruptDelta0 := recordBatch(math.MaxInt32, 0, nil)
	if len(corrupt) != 61 {
		t.Fatalf("corrupt batch is %d bytes, want 61", len(corrupt))
	}

	t.Run("apache", func(t *testing.T) {
		k := apachekafka.Shared(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := k.CreateTopic(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
		addr := k.Addrs()[0]
		// A new topic's leader may not act as one yet (NOT_LEADER_FOR_PARTITION):
		// the valid batch is retried on retriable errors until it is taken.
		for {
			code, msg := produceRaw(t, addr, topic, valid)
			if code == 0 {
				break
			}
			var ke *kerr.Error
			if !errors.As(kerr.ErrorForCode(code), &ke) || !ke.Retriable || ctx.Err() != nil {
				t.Fatalf("valid batch refused: %d %v %s", code, kerr.ErrorForCode(code), msg)
			}
			t.Logf("valid batch: %v; retrying", kerr.ErrorForCode(code))
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		for _, c := range []struct {
			name  string
			batch []byte
		}{{"lastOffsetDelta 2^31-2", corrupt}, {"lastOffsetDelta 0", corruptDelta0}} {
			code, msg := produceRaw(t, addr, topic, c.batch)
			t.Logf("Apache Kafka, %d-byte batch claiming 2^31-1 records (%s): error %d %v %q", len(c.batch), c.name, code, kerr.ErrorForCode(code), msg)
			if code == 0 {
				t.Errorf("Apache Kafka accepted the corrupt batch (%s)", c.name)
			}
		}
	})

	t.Run("kfake", func(t *testing.T) {
		b, err := broker.Start(context.Background(), broker.WithTopic(topic, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		addr := b.Addrs()[0]
		if code, msg := produceRaw(t, addr, topic, valid); code != 0 {
			t.Fatalf("valid batch refused: %d %v %s", code, kerr.ErrorForCode(code), msg)
		}
		// Recorded, not asserted: kfake's answer is a fact about kfake.
		code, msg := produceRaw(t, addr, topic, corrupt)
		t.Logf("kfake, 61-byte batch claiming 2^31-1 records: error %d %v %q", code, kerr.ErrorForCode(code), msg)
	})
}
