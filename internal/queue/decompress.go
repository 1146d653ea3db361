package queue

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/segmentio/kafka-go/compress"
)

// DefaultMaxDecompressedBytes bounds the decompressed size of one fetched
// record batch. A producer batch message is at most about 1 MB and a fetch
// returns at most 16 MiB, so legitimate batches stay far below it.
const DefaultMaxDecompressedBytes = 256 << 20

// ErrDecompressionBomb is returned (through the fetch) when a compressed
// record batch expands beyond the limit; the partition then reports itself
// stuck (see WithStuckReporter) instead of exhausting memory.
var ErrDecompressionBomb = errors.New("decompressed record batch exceeds the limit")

var (
	codecsOnce sync.Once
	originals  []compress.Codec
)

func init() { SetMaxDecompressedBytes(DefaultMaxDecompressedBytes) }

// SetMaxDecompressedBytes bounds, for the whole process, how many bytes one
// compressed record batch may expand to while it is read (kafka-go holds a
// decompressed batch whole: one zstd record of 10⁹ spaces, ~100 KB on the
// wire, took a worker to 2.33 GB). Installed with DefaultMaxDecompressedBytes
// at start-up; call it before any client runs. n <= 0 removes the bound.
func SetMaxDecompressedBytes(n int64) {
	maxDecompressed.Store(max(n, 0))
	codecsOnce.Do(func() { originals = append([]compress.Codec(nil), compress.Codecs[:]...) })
	for i, c := range originals {
		if c == nil {
			continue
		}
		if n <= 0 {
			compress.Codecs[i] = c
		} else {
			compress.Codecs[i] = boundedCodec{Codec: c, max: n}
		}
	}
}

type boundedCodec struct {
	compress.Codec
	max int64
}

func (c boundedCodec) NewReader(r io.Reader) io.ReadCloser {
	return &boundedReader{rc: c.Codec.NewReader(r), left: c.max, max: c.max, name: c.Name()}
}

type boundedReader struct {
	rc        io.ReadCloser
	left, max int64
	name      string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: exactly max bytes is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: %s batch over %d bytes", ErrDecompressionBomb, b.name, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedReader) Close() error { return b.rc.Close() }
