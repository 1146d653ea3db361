package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/snappy"
	kafkasnappy "github.com/segmentio/kafka-go/compress/snappy"
)

// snappyBatch is a v2 batch of records compressed with snappy (attributes 2).
func snappyBatch(n int32, compressed []byte) []byte {
	raw := rawBatch(n, compressed)
	binary.BigEndian.PutUint16(raw[21:23], 2)
	binary.BigEndian.PutUint32(raw[17:21], crc32c(raw[21:]))
	return raw
}

// xerial frames blocks the way Kafka's Java clients do.
func xerial(blocks ...[]byte) []byte {
	out := append(append([]byte(nil), xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)
	for _, b := range blocks {
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// TestSnappyBatchesAreCheckedBeforeDecoding: snappy batches whose frame or
// declared decoded lengths the bytes cannot back are refused at once,
// without the gigabyte allocations kafka-go's reader would make from those
// fields; well-formed ones, raw, xerial-framed, and from kafka-go's own
// writer, pass with their decoded size.
func TestSnappyBatchesAreCheckedBeforeDecoding(t *testing.T) {
	recs := append(record("abc", 0), record("defgh", 0)...)
	var viaKafkaGo bytes.Buffer
	w := (&kafkasnappy.Codec{}).NewWriter(&viaKafkaGo)
	w.Write(recs)
	w.Close()
	huge := binary.AppendUvarint(nil, 0xffffffff) // a block declaring 4 GiB, with nothing behind it
	fg := newFetchGuard(1<<30, 1<<20)
	for _, tc := range []struct {
		name    string
		records []byte
		want    error // nil: accepted
	}{
		{"raw block", snappy.Encode(nil, recs), nil},
		{"xerial frames", xerial(snappy.Encode(nil, recs[:0]), snappy.Encode(nil, recs)), nil},
		{"kafka-go writer", viaKafkaGo.Bytes(), nil},
		{"raw block declaring 4 GiB", huge, ErrDecompressionBomb},
		{"xerial block declaring 4 GiB", xerial(huge), ErrDecompressionBomb},
		{"xerial frame of 4 GiB", append(xerial(), 0xff, 0xff, 0xff, 0xff, 1, 2, 3), ErrCorruptBatch},
		{"xerial frame length cut", append(xerial(), 0, 0), ErrCorruptBatch},
		{"not snappy", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrCorruptBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			keep, err := fg.checkBatches(snappyBatch(2, tc.records))
			runtime.ReadMemStats(&after)
			if tc.want == nil && (err != nil || keep == 0) {
				t.Fatalf("well-formed snappy batch refused: keep %d, %v", keep, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Fatalf("checking it allocated %d MiB", alloc>>20)
			}
		})
	}
}
