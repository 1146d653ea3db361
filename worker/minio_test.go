package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/internal/testcert"
)

// The real-S3 test runs MinIO (built by `make setup` from the Go module proxy
// into .cache/minio/<version>/minio, or $MINIO_BIN) as a separate process.
// MinIO is AGPL: it is only ever run, never imported.

func minioBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MINIO_BIN"); p != "" {
		return p
	}
	v, err := os.ReadFile("../scripts/minio-version")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := filepath.Abs(filepath.Join("../.cache/minio", strings.TrimSpace(string(v)), "minio"))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MinIO not built (make setup builds it): %v", err)
		}
		t.Skipf("MinIO not built (run make setup): %v", err)
	}
	return p
}

// minioServer is a running MinIO process serving HTTPS on a loopback port.
type minioServer struct {
	URL        string // https://127.0.0.1:port
	User, Pass string
	cmd        *exec.Cmd
	log        *os.File
}

// freePort returns a port that was free a moment ago (MinIO wants a fixed
// address; a collision is retried by startMinIO).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMinIO starts MinIO over TLS with ca-signed certificates and waits for
// its health endpoint. It is killed when the test ends.
func startMinIO(t *testing.T, ca *testcert.CA) *minioServer {
	t.Helper()
	return startMinIOData(t, ca, "")
}

// startMinIOData is startMinIO with its data in dataDir ("": a temporary
// directory).
func startMinIOData(t *testing.T, ca *testcert.CA, dataDir string) *minioServer {
	t.Helper()
	bin := minioBinary(t)
	dir := t.TempDir()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Server("minio")
	if err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{pair.CertFile: "public.crt", pair.KeyFile: "private.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m := &minioServer{User: "nerstream-test", Pass: "minio-test-secret-" + fmt.Sprint(time.Now().UnixNano())}
		port, console := freePort(t), freePort(t)
		m.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
		m.log, err = os.Create(filepath.Join(dir, fmt.Sprintf("minio-%d.log", attempt)))
		if err != nil {
			t.Fatal(err)
		}
		m.cmd = exec.Command(bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
			"--console-address", fmt.Sprintf("127.0.0.1:%d", console), "--certs-dir", certs, dataDir)
		m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.User, "MINIO_ROOT_PASSWORD="+m.Pass,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- m.cmd.Wait() }()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case err := <-exited:
				b, _ := os.ReadFile(m.log.Name())
				lastErr = fmt.Errorf("minio exited: %v\n%s", err, b)
			default:
				resp, err := hc.Get(m.URL + "/minio/health/live")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Cleanup(func() {
							m.cmd.Process.Kill()
							<-exited
							m.log.Close()
						})
						return m
					}
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			break
		}
		m.cmd.Process.Kill()
		if lastErr == nil {
			lastErr = errors.New("minio not healthy within 60s")
		}
	}
	t.Fatalf("start MinIO: %v", lastErr)
	return nil
}

// killingProxy is an HTTPS reverse proxy in front of MinIO. When armed, the
// first PUT of a Parquet object calls kill (which SIGKILLs the uploading
// worker) while that request is in flight, then aborts it: the upload is
// interrupted, never completed.
type killingProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	armed  bool
	kill   func()
	killed string // object path whose upload was interrupted
}

func newKillingProxy(t *testing.T, target string, ca *testcert.CA) *killingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}
	p := &killingProxy{}
	pair, err := ca.Server("proxy")
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".parquet") {
			p.mu.Lock()
			fire := p.armed
			if fire {
				p.armed, p.killed = false, r.URL.Path
			}
			p.mu.Unlock()
			if fire {
				io.CopyN(io.Discard, r.Body, 512) // the upload has begun
				p.kill()
				panic(http.ErrAbortHandler)
			}
		}
		rp.ServeHTTP(w, r) // r.Host is kept: the SigV4 signature covers it
	}))
	p.srv.TLS = testcert.ServerTLS(pair, nil)
	p.srv.Config.ErrorLog = nil
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *killingProxy) arm(kill func()) {
	p.mu.Lock()
	p.armed, p.kill = true, kill
	p.mu.Unlock()
}

func (p *killingProxy) interrupted() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// TestMinIOExactlyOnce: the producer publishes PubMed files with its manifest
// in a real S3 server (MinIO over HTTPS, credentials from the AWS shared
// credentials file, i.e. the SDK's standard provider chain); a worker is
// SIGKILLed in the middle of a Parquet upload and restarted; every record
// ends up in the bucket exactly once, which DuckDB confirms on a copy of the
// objects read back through the S3 API.
func TestMinIOExactlyOnce(t *testing.T) {
	binaries(t)
	c := newCluster(t, 4)
	dir := t.TempDir()
	ca, err := testcert.NewCA(dir, "s3-ca")
	if err != nil {
		t.Fatal(err)
	}
	m := startMinIO(t, ca)

	// Credentials only through the standard chain: a shared credentials
	// file; no keys in the environment, no instance metadata.
	credFile := filepath.Join(dir, "aws-credentials")
	if err := os.WriteFile(credFile, []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", m.User, m.Pass)), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_SHARED_CREDENTIALS_FILE": credFile, "AWS_CONFIG_FILE": filepath.Join(dir, "no-aws-config"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CA_BUNDLE": ca.CertFile, "AWS_REGION": "us-east-1"} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	ac, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(m.URL), true
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}}
	})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("nerstream")}); err != nil {
		t.Fatalf("create bucket on MinIO: %v", err)
	}

	proxy := newKillingProxy(t, m.URL, ca)
	q := "?endpoint=" + url.QueryEscape(proxy.srv.URL) + "&use_path_style=true"
	c.outURL = "s3://nerstream/annotations" + q
	direct := "s3://nerstream/annotations?endpoint=" + url.QueryEscape(m.URL) + "&use_path_style=true"

	manifest := "s3://nerstream/manifests/baseline.json" + q
	out := c.runProducer("--manifest", manifest, "../testdata/pubmed")
	t.Logf("producer: %s", strings.TrimSpace(out))

	proxy.arm(func() { c.signal(0, syscall.SIGKILL) })
	c.startWorker(0, "--flush-records", "2", "--packing", "document")
	mdir := modelDir(t)
	deadline := time.Now().Add(90 * time.Second)
	for proxy.interrupted() == "" {
		if time.Now().After(deadline) {
			t.Fatal("no Parquet upload reached the proxy within 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("worker SIGKILLed during the upload of %s", proxy.interrupted())
	c.startWorker(0, "--flush-records", "2", "--packing", "document")
	c.outURL = direct
	rows := c.waitCovered(mdir, 150*time.Second)
	c.stopAll()

	// A nightly re-run reads the manifest back from MinIO and publishes nothing.
	before := c.hwm()
	c.runProducer("--manifest", manifest, "../testdata/pubmed")
	if after := c.hwm(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("re-run with the manifest in MinIO published again: high-water marks %v → %v", before, after)
	}

	// Every record of the PubMed files exactly once.
	recs := parsedPubMed(t)
	markers := map[string]int{}
	chunks := map[string]int{}
	for _, r := range rows {
		k := fmt.Sprintf("%s/v%d/%s", r.DocID, r.DocVersion, r.Op)
		if r.ChunkIndex == sink.DocumentMarker {
			markers[k]++
		} else {
			chunks[fmt.Sprintf("%s/%d", k, r.ChunkIndex)]++
		}
	}
	for _, r := range recs {
		op := string(r.Doc.Op)
		if op == "" {
			op = "upsert"
		}
		if n := markers[fmt.Sprintf("%s/v%d/%s", r.Doc.ID, r.Doc.Version, op)]; n != 1 {
			t.Fatalf("record %s v%d %s has %d marker rows in MinIO, want 1", r.Doc.ID, r.Doc.Version, op, n)
		}
	}
	for k, n := range chunks {
		if n != 1 {
			t.Fatalf("chunk %s appears %d times", k, n)
		}
	}
	if len(markers) != len(recs) {
		t.Fatalf("%d marker rows for %d records", len(markers), len(recs))
	}
	// The chunks are those of an in-process annotation, version by version.
	byVersion := map[int][]document.Document{}
	for _, r := range recs {
		if r.Doc.Op != document.OpDelete {
			byVersion[r.Doc.Version] = append(byVersion[r.Doc.Version], r.Doc)
		}
	}
	want := 0
	for v, docs := range byVersion {
		for id, cs := range annotateInProcess(t, docs, 0) {
			for _, ch := range cs {
				want++
				if chunks[fmt.Sprintf("%s/v%d/upsert/%d", id, v, ch.ChunkIndex)] != 1 {
					t.Fatalf("chunk %d of %s v%d (worker annotate) not in MinIO exactly once", ch.ChunkIndex, id, v)
				}
			}
		}
	}
	if want != len(chunks) {
		t.Fatalf("%d chunks in MinIO, %d from worker annotate", len(chunks), want)
	}

	// The interrupted object exists now, written whole by the restarted worker.
	key := strings.TrimPrefix(proxy.interrupted(), "/nerstream/")
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("nerstream"), Key: aws.String(key)}); err != nil {
		t.Fatalf("interrupted object %s was never rewritten: %v", key, err)
	}
	// The producer's manifest lives in the bucket too.
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("nerstream"), Key: aws.String("manifests/baseline.json")}); err != nil {
		t.Fatalf("producer manifest not in MinIO: %v", err)
	}

	// DuckDB on a copy of every object read back through the S3 API.
	local := filepath.Join(t.TempDir(), "bucket")
	st, err := sink.OpenBucket(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files := copyBucket(t, st.Bucket(), local)
	t.Logf("%d records, %d chunks, %d Parquet objects in MinIO", len(recs), len(chunks), files)
	got := duckDBQuery(t, local, `SELECT count(*) AS n,
	    count(DISTINCT (doc_id, doc_version, op, chunk_index)) AS distinct_rows,
	    count(*) FILTER (WHERE chunk_index = -1) AS markers FROM {{files}}`)
	if len(got) != 1 || got[0]["n"] != float64(len(rows)) || got[0]["distinct_rows"] != float64(len(rows)) || got[0]["markers"] != float64(len(recs)) {
		t.Fatalf("DuckDB sees %v; want %d rows, all distinct, and %d markers", got, len(rows), len(recs))
	}
	t.Logf("DuckDB: %v", got[0])

	// HTTPS is verified: without the CA bundle the same bucket is refused.
	t.Setenv("AWS_CA_BUNDLE", "")
	untrusted, err := sink.OpenBucket(ctx, direct, sink.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if _, _, err := untrusted.LastOffset(ctx, mdir, c.topic, 0); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("MinIO's test certificate accepted without AWS_CA_BUNDLE: err = %v", err)
	} else {
		t.Logf("without AWS_CA_BUNDLE: %v", err)
	}
}

// duckDBQuery runs sql ("{{files}}" is the read_parquet of every file under
// dir) in DuckDB through internal/sink/testdata/duckdb_check.js.
func duckDBQuery(t *testing.T, dir, sql string) []map[string]any {
	t.Helper()
	script, _ := filepath.Abs("../internal/sink/testdata/duckdb_check.js")
	nodeModules, _ := filepath.Abs("../.cache/node/node_modules")
	if _, err := os.Stat(filepath.Join(nodeModules, "@duckdb", "node-api")); err != nil {
		t.Fatalf("DuckDB for node not installed (run make setup): %v", err)
	}
	sqlFile := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(sqlFile, []byte(sql), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, dir, sqlFile)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	var res struct {
		Query []map[string]any `json:"query"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res.Query
}

// copyBucket downloads every Parquet object under b into dir and returns the count.
func copyBucket(t *testing.T, b *blob.Bucket, dir string) int {
	t.Helper()
	n := 0
	for key, data := range readObjects(t, b) {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no Parquet objects in the bucket")
	}
	return n
}

// readObjects returns every object of b by key.
func readObjects(t *testing.T, b *blob.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if out[obj.Key], err = b.ReadAll(ctx, obj.Key); err != nil {
			t.Fatal(err)
		}
	}
}
