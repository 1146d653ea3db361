package queue

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrCorruptBatch is returned (through the fetch) when a fetched record
// batch declares more records, or a record declares more bytes or headers,
// than the batch holds. kafka-go would allocate from such a count before
// reading a byte (a 61-byte batch claiming 2³¹−1 records killed the process
// with "runtime: out of memory"); the guard refuses it first, and the
// partition reports itself stuck (see WithStuckReporter).
var ErrCorruptBatch = errors.New("corrupt record batch")

// DefaultMaxFetchDecompressedBytes bounds the decompressed bytes of all the
// record batches of one fetch together. The first batch of a fetch is
// always taken (its own bound is SetMaxDecompressedBytes); the batches after
// it are taken while the total stays within the bound, and the rest is
// fetched again next time, so a fetch never holds more than about one
// bound's worth of decompressed data.
const DefaultMaxFetchDecompressedBytes = DefaultMaxDecompressedBytes

// fetchGuard checks every Fetch response on the consumer's connections
// before kafka-go decodes it. It sits between kafka-go's transport and the
// network (the transport's Dial), tracks the requests written to learn
// which responses answer a Fetch, and reads those whole (they are bounded by
// the fetch size) to check each record batch: counts and lengths against the
// bytes present, and decompressed size against the fetch's budget.
type fetchGuard struct {
	maxFetch    int64 // decompressed bytes per fetch
	maxResponse int64 // bytes of one fetch response on the wire

	mu      sync.Mutex
	refused map[string]error // "topic/partition" → why its last fetch was refused
}

// newFetchGuard bounds a fetch's decompressed bytes by maxFetch, and its
// response on the wire by fetchMaxBytes plus room for one batch over it
// (a broker always returns the first batch whole).
func newFetchGuard(maxFetch, fetchMaxBytes int64) *fetchGuard {
	return &fetchGuard{maxFetch: maxFetch, maxResponse: fetchMaxBytes + DefaultMaxDecompressedBytes + 1<<20, refused: map[string]error{}}
}

// dial returns a Transport.Dial that wraps each connection; TLS is done
// here (the Transport's own TLS must then be off) so that the guard sees
// plain Kafka frames.
func (fg *fetchGuard) dial(cfg Config) (func(context.Context, string, string) (net.Conn, error), error) {
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: cfg.dialTimeout(), DualStack: true}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc != nil {
			t := tc
			if t.ServerName == "" {
				host, _, _ := net.SplitHostPort(addr)
				t = tc.Clone()
				t.ServerName = host
			}
			c = tls.Client(c, t)
		}
		return &guardConn{Conn: c, fg: fg, fetches: map[int32]int16{}}, nil
	}, nil
}

// refusal returns why the last fetch of the partition was refused, or nil.
func (fg *fetchGuard) refusal(topic string, partition int) error {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	return fg.refused[fmt.Sprintf("%s/%d", topic, partition)]
}

func (fg *fetchGuard) setRefusal(topic string, partition int32, err error) {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	fg.refused[fmt.Sprintf("%s/%d", topic, partition)] = err
}

// checkResponse checks a Fetch response body (after the correlation id) of
// the given version. It returns nil when every batch passes, or a
// re-encoded response body where each partition keeps only the batches before
// the first one refused or over the fetch's budget; a partition whose first
// batch is refused gets error CORRUPT_MESSAGE and no records (the refusal
// is kept for Group to report).
func (fg *fetchGuard) checkResponse(version int16, body []byte) ([]byte, error) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(version)
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: fetch response v%d: %v", ErrCorruptBatch, version, err)
	}
	changed := false
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			keep, err := fg.checkBatches(p.RecordBatches)
			if err != nil && keep == 0 {
				fg.setRefusal(t.Topic, p.Partition, fmt.Errorf("topic %s partition %d: %w", t.Topic, p.Partition, err))
				p.ErrorCode, p.RecordBatches, changed = kafkaCorruptMessage, nil, true
			} else if keep < len(p.RecordBatches) {
				p.RecordBatches, changed = p.RecordBatches[:keep], true
			}
		}
	}
	if !changed {
		return nil, nil
	}
	return resp.AppendTo(nil), nil
}

// kafkaCorruptMessage is Kafka's CORRUPT_MESSAGE error code.
const kafkaCorruptMessage = 2

// frameRequests follows the requests written on a connection, frame by
// frame, and records the correlation id and version of each Fetch.
type frameRequests struct {
	hdr  [12]byte // size, api key, api version, correlation id
	n    int
	skip int64
}

const apiKeyFetch = 1

// observe consumes p (a chunk of the request stream) and calls fetch for
// every Fetch request header completed in it.
func (f *frameRequests) observe(p []byte, fetch func(corr int32, version int16)) {
	for len(p) > 0 {
		if f.skip > 0 {
			k := min(f.skip, int64(len(p)))
			p, f.skip = p[k:], f.skip-k
			continue
		}
		k := copy(f.hdr[f.n:], p)
		p, f.n = p[k:], f.n+k
		if f.n < len(f.hdr) {
			return
		}
		size := int64(int32(binary.BigEndian.Uint32(f.hdr[0:4])))
		if int16(binary.BigEndian.Uint16(f.hdr[4:6])) == apiKeyFetch {
			fetch(int32(binary.BigEndian.Uint32(f.hdr[8:12])), int16(binary.BigEndian.Uint16(f.hdr[6:8])))
		}
		f.n, f.skip = 0, max(size-8, 0)
	}
}
