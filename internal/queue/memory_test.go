package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/document"
)

// zstdBatch returns a zstd-compressed v2 batch of one record whose value is
// a batch message with one document of n bytes of text, built in pieces so
// that the test itself never holds the expanded value.
func zstdBatch(t *testing.T, id string, n int) []byte {
	t.Helper()
	head := `{"schema_version":1,"id":"` + id + `","source":{"file":"f","first":0,"last":0},"documents":[{"id":"` + id + `","text":"`
	tail := `"}]}`
	valueLen := len(head) + n + len(tail)
	var body []byte
	body = append(body, 0, 0, 0, 1) // attributes, deltas, null key
	body = binary.AppendVarint(body, int64(valueLen))
	recLen := len(body) + valueLen + 1 // + header count
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(binary.AppendVarint(nil, int64(recLen)))
	zw.Write(body)
	zw.Write([]byte(head))
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for left := n; left > 0; left -= len(chunk) {
		zw.Write(chunk[:min(left, len(chunk))])
	}
	zw.Write([]byte(tail))
	zw.Write([]byte{0}) // no headers
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawBatch(1, buf.Bytes())
	binary.BigEndian.PutUint16(raw[21:23], 4) // zstd
	binary.BigEndian.PutUint32(raw[17:21], crc32c(raw[21:]))
	return raw
}

// vmHWM is this process's peak resident set (Linux /proc), in bytes.
func vmHWM(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// TestSixHugeRecordsPeakRSS consumes six records of ~160 KB on the wire
// that each expand to 200 MB, and splits each the way the worker does
// (document.SplitBatch), in this process; it prints the peak RSS and fails
// over 1 GiB. Set NERSTREAM_MEM_TEST=1 to run it (it decompresses 2.4 GB).
func TestSixHugeRecordsPeakRSS(t *testing.T) {
	if os.Getenv("NERSTREAM_MEM_TEST") == "" {
		t.Skip("set NERSTREAM_MEM_TEST=1")
	}
	addrs := startBroker(t, broker.WithTopic("huge", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wire := 0
	for i := range 6 {
		b := zstdBatch(t, "r"+strconv.Itoa(i), 200<<20)
		wire += len(b)
		produceRaw(ctx, t, addrs, "huge", b)
	}
	base := vmHWM(t)
	g, err := NewGroup(addrs, "huge", "g-huge", fastGroup(WithFrom(FromEarliest))...)
	if err != nil {
		t.Fatal(err)
	}
	h := &splitHandler{recHandler: newRecHandler("huge")}
	stop := runGroup(t, g, h)
	waitFor(t, 4*time.Minute, "six records split", func() bool { return h.split.Load() == 6 })
	stop()
	peak := vmHWM(t)
	t.Logf("six records, %d bytes on the wire, 200 MiB each expanded: peak RSS %d MiB (%d MiB before consuming)", wire, peak>>20, base>>20)
	if peak > 1<<30 {
		t.Fatalf("peak RSS %d MiB, want under 1 GiB", peak>>20)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// splitHandler splits each record's value into documents as the worker's
// oversize path does, keeping nothing.
type splitHandler struct {
	*recHandler
	split atomic.Int32
}

func (h *splitHandler) Records(ctx context.Context, p Partition, recs []Record) error {
	for _, r := range recs {
		if _, err := document.SplitBatch(r.Value, func(string, int, []byte) error { return nil }); err != nil {
			return err
		}
		h.split.Add(1)
	}
	return nil
}
