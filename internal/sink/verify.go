package sink

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocloud.dev/blob"
)

// errVerify marks a stored object whose size or checksum is not what was
// written; the upload is retried (the retry overwrites it).
var errVerify = errors.New("stored object differs from what was written")

// put writes data under key once and checks what the bucket then holds.
//
// Any error while writing cancels the writer's context before it is closed,
// which makes every gocloud driver discard the object instead of committing
// what was written so far (fileblob would otherwise rename a short temporary
// file into place: the full-disk case). After a successful close the object's
// size and MD5 are verified (see [Store.verify]).
func (s *Store) put(ctx context.Context, key string, data []byte, sum [md5.Size]byte) error {
	wctx, abort := context.WithCancel(ctx)
	defer abort()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: ContentType, ContentMD5: sum[:]})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		abort()
		_ = w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return s.verify(ctx, key, data, sum)
}

// verify checks that the object at key holds exactly data. On file:// the
// file is read back and fsynced together with its directory, so a file the
// worker commits past survives a power loss too. Other backends are asked
// for the object's attributes: the size must match, and the MD5 they report
// must match too; where none is reported, or it differs (an S3 ETag is not
// an MD5 under SSE-KMS or multipart uploads), the object is read back.
func (s *Store) verify(ctx context.Context, key string, data []byte, sum [md5.Size]byte) error {
	if s.fileRoot != "" {
		return verifyFile(filepath.Join(s.fileRoot, filepath.FromSlash(key)), sum)
	}
	attrs, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if attrs.Size != int64(len(data)) {
		return fmt.Errorf("verify: %w: %d bytes stored, %d written", errVerify, attrs.Size, len(data))
	}
	if bytes.Equal(attrs.MD5, sum[:]) {
		return nil
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer r.Close()
	return checkMD5(r, sum)
}

// verifyFile reads path back, compares its MD5, and fsyncs the file and its
// directory (fileblob renames without either).
func verifyFile(path string, sum [md5.Size]byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	if err := checkMD5(f, sum); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("verify: fsync %s: %w", filepath.Base(path), err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("verify: fsync directory of %s: %w", filepath.Base(path), err)
	}
	return nil
}

func checkMD5(r io.Reader, sum [md5.Size]byte) error {
	h := md5.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("verify: read back: %w", err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum[:]) {
		return fmt.Errorf("verify: %w: MD5 %x of %d bytes read back, %x written", errVerify, got, n, sum)
	}
	return nil
}

// parquetMagic opens and ends every Parquet file; the 4 bytes before the
// trailing magic hold the footer's length.
const parquetMagic = "PAR1"

// minParquetSize is the smallest possible Parquet file: magic, footer
// length, magic (a real footer is never empty, so real files are larger).
const minParquetSize = 2*len(parquetMagic) + 4

// complete reports whether the object at key of the given size looks like a
// whole Parquet file: both magics present and a footer length that fits.
// This is what a write cut short (a full disk, a killed upload of a backend
// without atomic puts) never leaves: such objects are empty or end early.
func (s *Store) complete(ctx context.Context, key string, size int64) (bool, string, error) {
	if size < int64(minParquetSize) {
		return false, fmt.Sprintf("%d bytes, smaller than any Parquet file", size), nil
	}
	head, err := s.readRange(ctx, key, 0, int64(len(parquetMagic)))
	if err != nil {
		return false, "", err
	}
	tail, err := s.readRange(ctx, key, size-8, 8)
	if err != nil {
		return false, "", err
	}
	footer := int64(tail[0]) | int64(tail[1])<<8 | int64(tail[2])<<16 | int64(tail[3])<<24
	switch {
	case string(head) != parquetMagic:
		return false, "no Parquet magic at the start", nil
	case string(tail[4:]) != parquetMagic:
		return false, "no Parquet footer (file cut short)", nil
	case footer <= 0 || footer > size-int64(minParquetSize):
		return false, fmt.Sprintf("footer length %d does not fit in %d bytes", footer, size), nil
	}
	return true, "", nil
}

// readRange reads length bytes at offset of the object at key, with retries.
func (s *Store) readRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	var out []byte
	err := s.retry(ctx, "read "+key, func(ctx context.Context) error {
		r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		out, err = io.ReadAll(r)
		if err == nil && int64(len(out)) != length {
			err = fmt.Errorf("short read: %d of %d bytes at %d", len(out), length, offset)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s key %s: %w", s.name, key, err)
	}
	return out, nil
}
