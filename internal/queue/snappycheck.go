package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/klauspost/compress/snappy"
)

// maxDecompressed is the bound of SetMaxDecompressedBytes (0: none), read by
// the fetch guard's snappy check.
var maxDecompressed atomic.Int64

// xerialMagic opens a xerial-framed snappy stream (the framing of Kafka's
// Java clients): 8 magic bytes, a 4-byte version and a 4-byte compatible
// version, then frames of a 4-byte big-endian length and a snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// checkSnappy checks a snappy-compressed batch's records before any decoder
// sees them: every xerial frame length must fit in the bytes that follow,
// every block must declare a decoded length, and the declared lengths
// together must stay within max (0: no bound). kafka-go's reader allocates a
// xerial frame from its length and snappy.Decode the declared decoded
// length, up to 4 GiB each from a few bytes on the wire; a 75-byte batch
// cost 0.5 s and a 4 GiB allocation per look before this check. The error
// wraps ErrDecompressionBomb when only the bound is exceeded.
func checkSnappy(records []byte, max int64) error {
	blocks := [][]byte{records}
	if len(records) >= 16 && bytes.Equal(records[:8], xerialMagic) {
		blocks = nil
		for rest := records[16:]; len(rest) > 0; {
			if len(rest) < 4 {
				return fmt.Errorf("snappy: xerial frame length cut after %d bytes", len(rest))
			}
			n := int64(binary.BigEndian.Uint32(rest))
			if n > int64(len(rest)-4) {
				return fmt.Errorf("snappy: xerial frame of %d bytes with %d left", n, len(rest)-4)
			}
			blocks = append(blocks, rest[4:4+n])
			rest = rest[4+n:]
		}
	}
	var total int64
	for _, b := range blocks {
		n, err := snappy.DecodedLen(b)
		if err != nil {
			return fmt.Errorf("snappy: block of %d bytes: %v", len(b), err)
		}
		if total += int64(n); max > 0 && total > max {
			return fmt.Errorf("snappy blocks declare more than %d bytes: %w", max, ErrDecompressionBomb)
		}
	}
	return nil
}
