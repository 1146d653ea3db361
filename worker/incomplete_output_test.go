package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/internal/testcert"
)

// TestFullDiskLosesNothing is the full-disk probe of the reliability issue,
// end to end: a worker writing to file:// on a tmpfs with about 64 KB free
// stores a few files, then fails an upload for lack of space and stops the
// partition. No object is left at the failed key (every object in the bucket
// is a whole Parquet file), and once space is back a restarted worker
// annotates every remaining document: the output is exactly once and equal
// to `worker annotate`. Before verified uploads, the failed file stayed
// behind with 0 bytes and the restart skipped its records.
func TestFullDiskLosesNothing(t *testing.T) {
	c := newCluster(t, 1)
	dir := filepath.Join(c.out, "bucket")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root, as on the project's machines): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	fillTo(t, dir, filler, 64<<10)
	c.outURL = "file://" + dir + "?prefix=out"

	docs := testDocs(t, 120)
	const per = 2
	c.publish(docs, per, 0)
	c.startWorker(0, "--flush-records", "2")
	c.mu.Lock()
	cmd, logPath := c.workers[0], c.logs[0].Name()
	c.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("worker on a full disk exited with %v, want a failure exit", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("worker on a full disk did not stop within 3 minutes")
	}
	c.mu.Lock()
	delete(c.workers, 0)
	c.mu.Unlock()
	log, _ := os.ReadFile(logPath)
	if !bytes.Contains(log, []byte("PARTITION STOPPED")) || !bytes.Contains(log, []byte("no space left on device")) {
		t.Fatalf("worker log has no PARTITION STOPPED line for the full disk:\n%s", tail(log, 20))
	}
	stored := checkWholeParquetFiles(t, dir)
	if stored == 0 {
		t.Fatal("no file was stored before the disk filled up: the probe did not reach the failing upload mid-run")
	}
	t.Logf("%d files stored before the disk was full", stored)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.startWorker(0, "--flush-records", "2")
	rows := c.waitRows(ids(docs), 150*time.Second)
	c.stopAll()
	checkWholeParquetFiles(t, dir)
	checkExactlyOnce(t, rows, docs, per)
}

// fillTo writes filler until dir's filesystem has about free bytes left.
func fillTo(t *testing.T, dir, filler string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-free), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkWholeParquetFiles fails on any .parquet object under dir that is not
// a whole Parquet file (magic at both ends), or on a leftover temporary
// file, and returns how many there are.
func checkWholeParquetFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == "filler" {
			return err
		}
		if !strings.HasSuffix(p, ".parquet") {
			t.Errorf("leftover non-Parquet object %s", p)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(b) < 12 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
			t.Errorf("%s is not a whole Parquet file (%d bytes)", p, len(b))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestMinIOUntrustedObjectIsAnnotatedAgain: on a real S3 server (MinIO),
// the last object of a partition is replaced by its first half and an empty
// object is planted past it, as a writer without verified uploads could
// leave them. A restarted worker does not trust either: it logs them,
// removes the empty one, annotates their records again and rewrites the cut
// key whole; the output is exactly once and equal to `worker annotate`.
func TestMinIOUntrustedObjectIsAnnotatedAgain(t *testing.T) {
	binaries(t)
	c := newCluster(t, 1)
	ca, err := testcert.NewCA(t.TempDir(), "s3-ca")
	if err != nil {
		t.Fatal(err)
	}
	m := startMinIO(t, ca)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": m.User, "AWS_SECRET_ACCESS_KEY": m.Pass, "AWS_SESSION_TOKEN": "",
		"AWS_CA_BUNDLE": ca.CertFile, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	c.outURL = "s3://nerstream/annotations?endpoint=" + url.QueryEscape(m.URL) + "&use_path_style=true"
	st, err := sink.OpenBucket(ctx, c.outURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	createMinIOBucket(t, m, ca, "nerstream")

	docs := testDocs(t, 40)
	const per = 2
	c.publish(docs, per, 0)
	c.startWorker(0, "--flush-records", "2")
	c.waitRows(ids(docs), 150*time.Second)
	c.stopAll()

	mdir := modelDir(t)
	keys, err := st.Files(ctx, mdir, c.topic, 0)
	if err != nil || len(keys) < 3 {
		t.Fatalf("%d files in MinIO (%v), want several", len(keys), err)
	}
	cut := keys[len(keys)-1]
	data, err := st.Bucket().ReadAll(ctx, cut.String())
	if err != nil {
		t.Fatal(err)
	}
	empty := st.Key(mdir, c.topic, 0, cut.Last+1, cut.Last+4)
	for k, body := range map[string][]byte{cut.String(): data[:len(data)/2], empty.String(): nil} {
		if err := st.Bucket().WriteAll(ctx, k, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	if last, ok, err := st.LastOffset(ctx, mdir, c.topic, 0); err != nil || !ok || last != cut.First-1 {
		t.Fatalf("LastOffset with a cut object = %d, %v, %v; want %d", last, ok, err, cut.First-1)
	}
	// LastOffset above removed the empty object; plant it again for the worker.
	if err := st.Bucket().WriteAll(ctx, empty.String(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Bucket().WriteAll(ctx, cut.String(), data[:len(data)/2], nil); err != nil {
		t.Fatal(err)
	}

	c.startWorker(0, "--flush-records", "2")
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := st.Bucket().ReadAll(ctx, cut.String())
		if err == nil && len(got) == len(data) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cut object %s was not rewritten whole within 90s", cut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows := c.waitRows(ids(docs), 60*time.Second)
	c.stopAll()
	if ok, err := st.Bucket().Exists(ctx, empty.String()); ok || err != nil {
		t.Fatalf("the empty object %s is still in the bucket (%v)", empty, err)
	}
	c.mu.Lock()
	logPath := filepath.Join(c.out, "../worker-0.log")
	c.mu.Unlock()
	log, _ := os.ReadFile(logPath)
	for _, k := range []sink.Key{cut, empty} {
		if !bytes.Contains(log, []byte("not a whole Parquet file")) || !bytes.Contains(log, []byte(k.String())) {
			t.Fatalf("worker log does not report the untrusted object %s:\n%s", k, tail(log, 30))
		}
	}
	checkExactlyOnce(t, rows, docs, per)
}

// createMinIOBucket creates bucket on m.
func createMinIOBucket(t *testing.T, m *minioServer, ca *testcert.CA, bucket string) {
	t.Helper()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(m.User, m.Pass, "")),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}}})
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket on MinIO: %v", err)
	}
}
