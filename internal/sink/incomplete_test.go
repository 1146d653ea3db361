package sink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gocloud.dev/blob"
)

// smallFilesystem returns a directory on a filesystem with about free bytes
// left: a fresh tmpfs filled up to that point (root, as on the project's
// machines and CI). Where mounting is not permitted the test is skipped;
// TestFailedFileWriteLeavesNoObject's file-size-limit case still runs.
func smallFilesystem(t *testing.T, free int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	fill := int64(st.Bavail)*st.Bsize - free
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, fill), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withFileSizeLimit makes every write past limit bytes of one file fail with
// EFBIG for the rest of the test (Go ignores SIGXFSZ). Tests of this package
// do not run in parallel, so no other test meets the limit.
func withFileSizeLimit(t *testing.T, limit uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	restore = func() { syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) }
	t.Cleanup(restore)
	return restore
}

// TestFailedFileWriteLeavesNoObject is the full-disk silent-loss probe on
// file://: a write that fails part-way (no space left; a file-size limit)
// leaves nothing at the final key and no temporary file, the upload fails
// naming the key, and resume does not count the offsets as stored. Once
// space is back the same upload succeeds and is verified.
func TestFailedFileWriteLeavesNoObject(t *testing.T) {
	rows := randomRows(60_000) // about 150 KB of Parquet: larger than the room left
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (dir string, free func())
	}{
		{"no space left", func(t *testing.T) (string, func()) {
			dir := smallFilesystem(t, 20<<10)
			return dir, func() { os.Remove(filepath.Join(dir, "filler")) }
		}},
		{"file size limit", func(t *testing.T) (string, func()) {
			dir := t.TempDir()
			return dir, withFileSizeLimit(t, 20<<10)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir, free := tc.setup(t)
			var logs logBuffer
			s := openTest(t, "file://"+filepath.ToSlash(dir)+"?prefix=out", WithRetry(3, 0, 0, 0),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err := s.Upload(ctx, s.Key(testModel, "docs", 0, 0, 1), genRows(3, "docs", 0, 0)); err != nil {
				t.Fatalf("a small upload failed: %v", err)
			}
			k := s.Key(testModel, "docs", 0, 2, 5)
			err := s.Upload(ctx, k, rows)
			if err == nil || !strings.Contains(err.Error(), k.String()) {
				t.Fatalf("Upload on a full filesystem = %v, want an error naming %s", err, k)
			}
			if ok, _ := s.Bucket().Exists(ctx, k.String()); ok {
				t.Fatalf("a failed write left an object at %s", k)
			}
			assertOnlyKeys(t, filepath.Join(dir, filepath.FromSlash(k.PartitionPrefix())), "00000000000000000000-00000000000000000001.parquet")
			if last, ok, err := s.LastOffset(ctx, testModel, "docs", 0); err != nil || !ok || last != 1 {
				t.Fatalf("LastOffset after the failed write = %d, %v, %v; want 1 (the failed file is not stored)", last, ok, err)
			}
			free()
			if err := s.Upload(ctx, k, rows); err != nil {
				t.Fatalf("Upload once space is back: %v", err)
			}
			got, err := s.ReadKey(ctx, k)
			if err != nil || len(got) != len(rows) {
				t.Fatalf("read back %d rows, %v; want %d", len(got), err, len(rows))
			}
		})
	}
}

// assertOnlyKeys fails unless dir holds exactly the named files.
func assertOnlyKeys(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

// TestUntrustedObjectsAreNotStored: an empty or cut-short object at a final
// key (left by a version without verified uploads, or by another writer) is
// not counted as stored: resume restarts at its first offset, logs it and
// removes it, on every backend.
func TestUntrustedObjectsAreNotStored(t *testing.T) {
	whole := encode(t, genRows(20, "docs", 0, 10))
	for name, url := range backends(t) {
		for _, tc := range []struct {
			name     string
			at       [2]int64 // offsets of the planted object
			body     []byte
			wantLast int64
			wantWhy  string
		}{
			{"empty last file", [2]int64{20, 29}, nil, 19, "smaller than any Parquet file"},
			{"truncated last file", [2]int64{20, 29}, whole[:len(whole)/2], 19, "no Parquet footer"},
			{"footer only", [2]int64{20, 29}, whole[len(whole)-8:], 19, "smaller than any Parquet file"},
			{"bad footer length", [2]int64{20, 29}, append([]byte("PAR1xxxxxxxx"), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'), 19, "does not fit"},
			{"empty file below the last", [2]int64{10, 19}, nil, 9, "smaller than any Parquet file"},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				var logs logBuffer
				s := openTest(t, url, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				for _, r := range [][2]int64{{0, 9}, {10, 19}, {20, 29}, {30, 39}} {
					if err := s.Bucket().Delete(ctx, s.Key(testModel, "docs", 0, r[0], r[1]).String()); err != nil && !isNotFound(err) {
						t.Fatal(err)
					}
				}
				for _, r := range [][2]int64{{0, 9}, {10, 19}} {
					if err := s.Upload(ctx, s.Key(testModel, "docs", 0, r[0], r[1]), genRows(5, "docs", 0, r[0])); err != nil {
						t.Fatal(err)
					}
				}
				if tc.at[0] == 10 { // the empty file sits below a whole one
					if err := s.Upload(ctx, s.Key(testModel, "docs", 0, 20, 29), genRows(5, "docs", 0, 20)); err != nil {
						t.Fatal(err)
					}
				}
				planted := s.Key(testModel, "docs", 0, tc.at[0], tc.at[1])
				if err := s.Bucket().WriteAll(ctx, planted.String(), tc.body, nil); err != nil {
					t.Fatal(err)
				}
				last, ok, err := s.LastOffset(ctx, testModel, "docs", 0)
				if err != nil || !ok || last != tc.wantLast {
					t.Fatalf("LastOffset = %d, %v, %v; want %d", last, ok, err, tc.wantLast)
				}
				if !strings.Contains(logs.String(), planted.String()) || !strings.Contains(logs.String(), tc.wantWhy) {
					t.Errorf("log does not name %s and %q:\n%s", planted, tc.wantWhy, logs.String())
				}
				if ok, _ := s.Bucket().Exists(ctx, planted.String()); ok {
					t.Errorf("the untrusted object %s is still there", planted)
				}
				// Resuming writes the key anew: it is then trusted.
				if err := s.Upload(ctx, planted, genRows(5, "docs", 0, tc.at[0])); err != nil {
					t.Fatal(err)
				}
				if last, _, err := s.LastOffset(ctx, testModel, "docs", 0); err != nil || last != 29 {
					t.Fatalf("LastOffset after rewriting %s = %d, %v; want 29", planted, last, err)
				}
			})
		}
	}
}

func isNotFound(err error) bool {
	var perr *os.PathError
	return errors.As(err, &perr) || strings.Contains(err.Error(), "NotFound") || strings.Contains(err.Error(), "not found")
}

// TestS3WriteCutShortLeavesNoObject: a PUT whose body is cut off part-way
// (connection lost mid-upload) never leaves an object at the key on S3, even
// when every attempt fails; a following whole upload is verified.
func TestS3WriteCutShortLeavesNoObject(t *testing.T) {
	ctx := context.Background()
	s, ft := faultyStore(t, func(n int, r *http.Request) Fault {
		if isWrite(r) {
			return CutBody
		}
		return Pass
	}, WithRetry(3, 0, 0, 0))
	k := s.Key(testModel, "docs", 0, 0, 9)
	rows := genRows(200, "docs", 0, 0)
	if err := s.Upload(ctx, k, rows); err == nil {
		t.Fatal("an upload whose every body was cut short succeeded")
	}
	if ft.faults.Load() == 0 {
		t.Fatal("no write was cut")
	}
	if ok, err := s.Bucket().Exists(ctx, k.String()); ok || err != nil {
		t.Fatalf("object at %s after cut writes: exists %v, %v", k, ok, err)
	}
	if _, ok, err := s.LastOffset(ctx, testModel, "docs", 0); ok || err != nil {
		t.Fatalf("LastOffset found stored offsets after cut writes (%v)", err)
	}
	ft.plan = func(int, *http.Request) Fault { return Pass }
	if err := s.Upload(ctx, k, rows); err != nil {
		t.Fatal(err)
	}
	r, err := s.Bucket().NewReader(ctx, k.String(), (*blob.ReaderOptions)(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, _ := io.ReadAll(r)
	if !bytes.Equal(data, encode(t, rows)) {
		t.Fatal("the stored object differs from the encoded rows")
	}
}

// TestEveryEmptyObjectIsRemoved: several empty objects among whole files are
// all removed (readers never meet them), and resume starts at the earliest.
func TestEveryEmptyObjectIsRemoved(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t, url)
			for _, r := range [][2]int64{{0, 9}, {20, 29}} {
				if err := s.Upload(ctx, s.Key(testModel, "empties", 0, r[0], r[1]), genRows(5, "empties", 0, r[0])); err != nil {
					t.Fatal(err)
				}
			}
			empties := []Key{s.Key(testModel, "empties", 0, 10, 19), s.Key(testModel, "empties", 0, 30, 39)}
			for _, k := range empties {
				if err := s.Bucket().WriteAll(ctx, k.String(), nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			if last, ok, err := s.LastOffset(ctx, testModel, "empties", 0); err != nil || !ok || last != 9 {
				t.Fatalf("LastOffset = %d, %v, %v; want 9", last, ok, err)
			}
			for _, k := range empties {
				if ok, _ := s.Bucket().Exists(ctx, k.String()); ok {
					t.Errorf("empty object %s is still there", k)
				}
			}
		})
	}
}
