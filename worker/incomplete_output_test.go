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
	"path"
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
// end to end, on file:// and on MinIO: the bucket's filesystem is a tmpfs
// with about 64 KB free (MinIO: its data directory). A worker stores a few
// files, then fails an upload for lack of space, stops the partition and
// exits. No object is left at the failed key (every object in the bucket is
// a whole Parquet file), and once space is back a restarted worker annotates
// every remaining document: the output is exactly once and equal to `worker
// annotate`. Before verified uploads, file:// kept the failed file with 0
// bytes and the restart skipped its records.
func TestFullDiskLosesNothing(t *testing.T) {
	for _, backend := range []string{"file", "minio"} {
		t.Run(backend, func(t *testing.T) {
			binaries(t)
			c := newCluster(t, 1)
			dir := filepath.Join(c.out, "disk")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
				t.Skipf("cannot mount a tmpfs here (needs root, as on the project's machines): %v", err)
			}
			t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
			var objects func() map[string][]byte
			switch backend {
			case "file":
				c.outURL = "file://" + dir + "?prefix=out"
				objects = func() map[string][]byte { return readTree(t, dir) }
			case "minio":
				st := minioOn(t, filepath.Join(dir, "data"))
				c.outURL = st.url
				objects = func() map[string][]byte { return readBucket(t, st.url) }
			}
			filler := filepath.Join(dir, "filler")
			fillTo(t, dir, filler, 64<<10)

			docs := testDocs(t, 120)
			const per = 2
			c.publish(docs, per, 0)
			log := c.runUntilExit(0, 3*time.Minute, "--flush-records", "2")
			if !bytes.Contains(log, []byte("PARTITION STOPPED")) {
				t.Fatalf("worker log has no PARTITION STOPPED line for the full disk:\n%s", tail(log, 20))
			}
			stored := checkWholeParquetFiles(t, objects())
			if stored == 0 {
				t.Fatal("no file was stored before the disk filled up: the probe did not reach the failing upload mid-run")
			}
			t.Logf("%d files stored before the disk was full; the failure logged: %s", stored, lastMatching(log, "PARTITION STOPPED"))

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			c.startWorker(0, "--flush-records", "2")
			rows := c.waitRows(ids(docs), 150*time.Second)
			c.stopAll()
			checkWholeParquetFiles(t, objects())
			checkExactlyOnce(t, rows, docs, per)
		})
	}
}

// runUntilExit starts worker i and waits until it exits with a failure,
// returning its log.
func (c *cluster) runUntilExit(i int, timeout time.Duration, extra ...string) []byte {
	c.t.Helper()
	c.startWorker(i, extra...)
	c.mu.Lock()
	cmd, logPath := c.workers[i], c.logs[i].Name()
	c.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			c.t.Fatalf("worker %d exited with %v, want a failure exit", i, err)
		}
	case <-time.After(timeout):
		c.t.Fatalf("worker %d did not stop within %s", i, timeout)
	}
	c.mu.Lock()
	delete(c.workers, i)
	c.mu.Unlock()
	log, _ := os.ReadFile(logPath)
	return log
}

func lastMatching(log []byte, sub string) string {
	lines := strings.Split(string(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}

// minioStore is a MinIO server with a bucket, as an s3:// URL; the AWS
// environment of the test process (and so of its workers) points at it.
type minioStore struct{ url string }

// minioOn starts MinIO with its data in dataDir and creates the bucket
// "nerstream"; the returned URL has the prefix "annotations".
func minioOn(t *testing.T, dataDir string) minioStore {
	t.Helper()
	ca, err := testcert.NewCA(t.TempDir(), "s3-ca")
	if err != nil {
		t.Fatal(err)
	}
	m := startMinIOData(t, ca, dataDir)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": m.User, "AWS_SECRET_ACCESS_KEY": m.Pass, "AWS_SESSION_TOKEN": "",
		"AWS_CA_BUNDLE": ca.CertFile, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	createMinIOBucket(t, m, ca, "nerstream")
	return minioStore{url: "s3://nerstream/annotations?endpoint=" + url.QueryEscape(m.URL) + "&use_path_style=true"}
}

// readTree returns the files under dir by path, except the filler.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == "filler" || strings.Contains(p, ".minio.sys") {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readBucket returns the objects of the s3:// URL's bucket by key.
func readBucket(t *testing.T, u string) map[string][]byte {
	t.Helper()
	st, err := sink.OpenBucket(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return readObjects(t, st.Bucket())
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

// checkWholeParquetFiles fails on any object that is not a whole Parquet
// file (magic at both ends) and on any other object (a leftover temporary
// file), and returns how many there are.
func checkWholeParquetFiles(t *testing.T, objects map[string][]byte) int {
	t.Helper()
	n := 0
	for name, b := range objects {
		if path.Base(name) == sink.SettingsObject {
			continue
		}
		n++
		if !strings.HasSuffix(name, ".parquet") {
			t.Errorf("leftover non-Parquet object %s", name)
			continue
		}
		if len(b) < 12 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
			t.Errorf("%s is not a whole Parquet file (%d bytes)", name, len(b))
		}
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
