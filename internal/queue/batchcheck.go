package queue

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkBatches walks the record batches of one partition's fetch (raw, as
// on the wire) and returns how many leading bytes to keep: every batch up to
// the first one that is refused (err says why) or that would take the
// fetch's decompressed bytes over maxFetch (err nil). A trailing partial
// batch, which brokers send when a fetch's size cuts it, is kept as is.
func (fg *fetchGuard) checkBatches(rb []byte) (keep int, err error) {
	var total int64
	for off := 0; off+12 <= len(rb); {
		length := int(int32(binary.BigEndian.Uint32(rb[off+8 : off+12])))
		end := off + 12 + length
		if length >= 0 && end > len(rb) {
			return len(rb), nil // partial: a broker cuts the last batch at the fetch's size
		}
		if length >= 5 && rb[off+16] != 2 {
			return len(rb), nil // a v0/v1 message set: kafka-go reads those without counts
		}
		if length < 49 {
			return off, fmt.Errorf("%w at byte %d: batch length %d is shorter than a batch header", ErrCorruptBatch, off, length)
		}
		n, err := fg.checkBatch(rb[off:end])
		if err != nil {
			return off, err
		}
		if total += n; off > 0 && total > fg.maxFetch {
			return off, nil
		}
		off = end
	}
	return len(rb), nil
}

// checkBatch checks one v2 record batch and returns its records' size
// after decompression.
func (fg *fetchGuard) checkBatch(raw []byte) (int64, error) {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		return 0, fmt.Errorf("%w: batch header: %v", ErrCorruptBatch, err)
	}
	var src io.Reader = bytes.NewReader(b.Records)
	if c := compress.Compression(b.Attributes & 7); c != 0 {
		codec := c.Codec()
		if codec == nil {
			return 0, fmt.Errorf("%w at offset %d: unknown compression codec %d", ErrCorruptBatch, b.FirstOffset, c)
		}
		if c == compress.Snappy {
			if err := checkSnappy(b.Records, maxDecompressed.Load()); errors.Is(err, ErrDecompressionBomb) {
				return 0, fmt.Errorf("batch at offset %d: %w", b.FirstOffset, err)
			} else if err != nil {
				return 0, fmt.Errorf("%w at offset %d: %v", ErrCorruptBatch, b.FirstOffset, err)
			}
		}
		rc := codec.NewReader(src)
		defer rc.Close()
		src = rc
	}
	cr := &countReader{r: src}
	err := walkRecords(bufio.NewReaderSize(cr, 64<<10), b.NumRecords)
	if err == nil {
		_, err = io.Copy(io.Discard, cr) // kafka-go decompresses all of it
	}
	if err != nil {
		if errors.Is(err, ErrDecompressionBomb) {
			return 0, fmt.Errorf("batch at offset %d: %w", b.FirstOffset, err)
		}
		return 0, fmt.Errorf("%w at offset %d (%d bytes, %d records declared): %v", ErrCorruptBatch, b.FirstOffset, len(raw), b.NumRecords, err)
	}
	return cr.n, nil
}

// walkRecords reads numRecords records and checks that each length, count
// and size field fits in the bytes that follow, so that nothing is ever
// allocated from a count the data cannot back.
func walkRecords(r *bufio.Reader, numRecords int32) error {
	if numRecords < 0 {
		return fmt.Errorf("negative record count %d", numRecords)
	}
	for i := range numRecords {
		if err := walkRecord(r); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("record %d of %d: the batch ends first", i, numRecords)
			}
			return fmt.Errorf("record %d of %d: %w", i, numRecords, err)
		}
	}
	return nil
}

// walkRecord reads one record: length, attributes, timestamp and offset
// deltas, key, value, headers (each a key and a value).
func walkRecord(r *bufio.Reader) error {
	length, err := binary.ReadVarint(r)
	if err != nil {
		return err
	}
	if length < 7 {
		return fmt.Errorf("record length %d is below the 7-byte minimum", length)
	}
	rr := &recordReader{r: r, left: length}
	if err := rr.skip(1); err != nil { // attributes
		return err
	}
	for range 2 { // timestamp and offset deltas
		if _, err := rr.varint(); err != nil {
			return err
		}
	}
	if err := rr.field("key"); err != nil {
		return err
	}
	if err := rr.field("value"); err != nil {
		return err
	}
	headers, err := rr.varint()
	if err != nil {
		return err
	}
	if headers < 0 || headers > rr.left/2 {
		return fmt.Errorf("%d headers in %d remaining bytes", headers, rr.left)
	}
	for range headers {
		if err := rr.field("header key"); err != nil {
			return err
		}
		if err := rr.field("header value"); err != nil {
			return err
		}
	}
	return rr.skip(rr.left) // bytes past the headers: kafka-go skips them too
}

// recordReader reads the fields of one record, never past its length.
type recordReader struct {
	r    *bufio.Reader
	left int64
}

func (rr *recordReader) varint() (int64, error) {
	var n int64
	v, err := binary.ReadVarint(byteCounter{rr.r, &n})
	if rr.left -= n; rr.left < 0 {
		return 0, errors.New("varint runs past the record's length")
	}
	return v, err
}

// field reads a varint length (-1: null) and skips that many bytes,
// refusing a length beyond the record's end.
func (rr *recordReader) field(name string) error {
	n, err := rr.varint()
	if err != nil {
		return err
	}
	if n < -1 || n > rr.left {
		return fmt.Errorf("%s length %d with %d bytes left in the record", name, n, rr.left)
	}
	return rr.skip(max(n, 0))
}

func (rr *recordReader) skip(n int64) error {
	if n > rr.left {
		return fmt.Errorf("%d bytes past the record's end", n-rr.left)
	}
	for n > 0 {
		k, err := rr.r.Discard(int(min(n, 1<<30)))
		n, rr.left = n-int64(k), rr.left-int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

type byteCounter struct {
	r *bufio.Reader
	n *int64
}

func (b byteCounter) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err == nil {
		*b.n++
	}
	return c, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
