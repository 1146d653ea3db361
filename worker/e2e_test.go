package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/corpus"
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/enrich"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
)

// The end-to-end tests run the real binaries as separate processes against
// an in-process Kafka-protocol broker (kfake) and a file:// bucket, so they can
// be killed with SIGKILL and paused with SIGSTOP.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "nerstream-bin-")
		if binErr != nil {
			return
		}
		pkgs := []string{"github.com/nerstream/nerstream/worker"}
		if _, err := os.Stat("../producer/main.go"); err == nil {
			pkgs = append(pkgs, "github.com/nerstream/nerstream/producer")
		}
		cmd := exec.Command("go", append([]string{"build", "-o", binDir + "/"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

const testModel = "../testdata/tinybert"

// cluster is one test's workers, topic and group on a broker: b is the
// kfake broker (nil on Apache Kafka), addrs the bootstrap brokers.
type cluster struct {
	t       *testing.T
	b       *broker.Broker
	addrs   []string
	out     string // bucket dir (also holds the worker logs' parent)
	outURL  string // bucket URL the workers write to
	topic   string
	group   string
	extra   []string
	mu      sync.Mutex
	workers map[int]*exec.Cmd
	logs    map[int]*os.File
	metrics map[int]string // /metrics address of each worker's latest start
}

func newCluster(t *testing.T, partitions int) *cluster {
	t.Helper()
	return newClusterOn(t, kfakeBroker, partitions)
}

// newClusterOn is newCluster on the given broker kind: a fresh kfake broker,
// or a topic and group of this test's own on the test binary's shared Apache
// Kafka (see apache_kafka_test.go).
func newClusterOn(t *testing.T, kind brokerKind, partitions int) *cluster {
	t.Helper()
	var b *broker.Broker
	var addrs []string
	topic := "docs"
	switch kind {
	case kfakeBroker:
		var err error
		b, err = broker.Start(context.Background(), broker.WithPartitions(partitions), broker.WithGroupMinSessionTimeout(500*time.Millisecond),
			broker.WithTopic("docs", partitions))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		addrs = b.Addrs()
	case apacheBroker:
		addrs, topic = apacheTopic(t, partitions)
	default:
		t.Fatalf("unknown broker kind %q", kind)
	}
	return newClusterAt(t, b, addrs, topic)
}

// newClusterAt is a cluster of this test's workers on topic at addrs (b is
// the kfake broker there, or nil).
func newClusterAt(t *testing.T, b *broker.Broker, addrs []string, topic string) *cluster {
	t.Helper()
	out := t.TempDir()
	c := &cluster{t: t, b: b, addrs: addrs, out: out, outURL: "file://" + out, topic: topic, group: "g-" + strings.ReplaceAll(t.Name(), "/", "-"), workers: map[int]*exec.Cmd{}, logs: map[int]*os.File{}, metrics: map[int]string{}}
	t.Cleanup(c.killAll)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "worker-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("--- %s (last 40 of %d lines)\n%s", filepath.Base(l), len(lines), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return c
}

func (c *cluster) startWorker(i int, extra ...string) {
	c.t.Helper()
	maddr := freeAddr(c.t)
	args := []string{"run", "--brokers", strings.Join(c.addrs, ","), "--topic", c.topic, "--group", c.group,
		"--model", testModel, "--out", c.outURL, "--batch", "8", "--intra-threads", "1", "--metrics-addr", maddr,
		"--flush-records", "4", "--flush-interval", "3s", "--idle-grace", "500ms", "--idle-interval", "300ms",
		"--session-timeout", "2s", "--heartbeat-interval", "300ms", "--join-backoff", "200ms", "--rebalance-timeout", "5s",
		"--shutdown-timeout", "20s", "--log-level", "info"}
	args = append(args, c.extra...)
	args = append(args, extra...)
	cmd := exec.Command(filepath.Join(binaries(c.t), "worker"), args...)
	logf, err := os.OpenFile(filepath.Join(c.out, fmt.Sprintf("../worker-%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.workers[i], c.logs[i], c.metrics[i] = cmd, logf, maddr
	c.mu.Unlock()
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitJoined waits until worker i's latest start owns a partition: its own
// /metrics (a fresh process) reports nerstream_assigned_partitions ≥ 1.
func (c *cluster) waitJoined(i int, timeout time.Duration) {
	c.t.Helper()
	c.waitMetric(i, metrics.NamePartitions, 1, timeout)
}

// waitMetric waits until worker i's /metrics reports name ≥ min.
func (c *cluster) waitMetric(i int, name string, min float64, timeout time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	addr := c.metrics[i]
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if s, err := metrics.Scrape(ctx, addr); err == nil && s[name] >= min {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("worker %d: %s did not reach %v within %s", i, name, min, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *cluster) signal(i int, sig syscall.Signal) {
	c.mu.Lock()
	cmd := c.workers[i]
	c.mu.Unlock()
	cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		cmd.Wait()
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, cmd := range c.workers {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				c.t.Errorf("worker %d exited with %v after SIGTERM (log: %s)", i, err, c.logs[i].Name())
			}
		case <-time.After(30 * time.Second):
			c.t.Errorf("worker %d did not exit within 30s of SIGTERM", i)
			cmd.Process.Kill()
		}
		delete(c.workers, i)
	}
}

func (c *cluster) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range c.workers {
		cmd.Process.Kill()
		cmd.Wait()
	}
	c.workers = map[int]*exec.Cmd{}
}

// testDocs are the JNLPBA devel abstracts (or a synthetic fallback).
func testDocs(t *testing.T, n int) []document.Document {
	t.Helper()
	f, err := os.Open(develDocsPath())
	var docs []document.Document
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(docs) < n {
			var d struct{ PMID, Text string }
			json.Unmarshal(sc.Bytes(), &d)
			title, body, _ := strings.Cut(d.Text, "\n")
			docs = append(docs, document.Document{ID: d.PMID, Title: title, Text: strings.TrimRight(body, "\n"), Version: 1})
		}
	}
	for i := len(docs); i < n; i++ {
		docs = append(docs, document.Document{ID: fmt.Sprint(9000000 + i), Title: "IL-2 gene expression in T cells.",
			Text: fmt.Sprintf("Case %d: NF-kappa B binds the CD28 response element in Jurkat cells.", i), Version: 1})
	}
	return docs
}

// publish sends docs in batches of per documents; pause between messages.
func (c *cluster) publish(docs []document.Document, per int, pause time.Duration) {
	c.t.Helper()
	pub, err := queue.NewPublisher(context.Background(), c.addrs, c.topic)
	if err != nil {
		c.t.Fatal(err)
	}
	defer pub.Close()
	for i := 0; i < len(docs); i += per {
		j := min(i+per, len(docs))
		b := document.Batch{SchemaVersion: document.SchemaVersion, ID: document.BatchID("test", int64(i), int64(j-1)),
			Source: document.Source{File: "test", First: int64(i), Last: int64(j - 1)}, Documents: docs[i:j]}
		v, err := document.EncodeBatch(&b)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := pub.Publish(context.Background(), queue.Message{Key: []byte(b.ID), Value: v}); err != nil {
			c.t.Fatal(err)
		}
		time.Sleep(pause)
	}
}

func modelDir(t *testing.T) string {
	b, err := model.LoadBundle(testModel)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sink.ModelDir(b.Name, b.Version)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitRows polls the bucket until every document has its marker row.
func (c *cluster) waitRows(ids []string, timeout time.Duration) []sink.Row {
	c.t.Helper()
	st, err := sink.OpenBucket(context.Background(), c.outURL)
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	md := modelDir(c.t)
	deadline := time.Now().Add(timeout)
	for {
		rows, err := st.ReadAll(context.Background(), md)
		if err != nil {
			c.t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if r.ChunkIndex == sink.DocumentMarker {
				seen[r.DocID] = true
			}
		}
		missing := 0
		for _, id := range ids {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			return rows
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s, %d of %d documents have no output (worker logs in %s)", timeout, missing, len(ids), filepath.Dir(c.out))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type chunkKey struct {
	doc string
	idx int32
}

// checkExactlyOnce asserts every (doc, chunk) row appears once and the chunks
// equal an in-process annotation of the same texts.
// checkExactlyOnce checks that every chunk row appears once and that the
// chunks equal an in-process annotation of the same records (per documents
// each, as published: record packing groups a record's documents; per 0:
// the workers ran with --packing document).
func checkExactlyOnce(t *testing.T, rows []sink.Row, docs []document.Document, per int) {
	t.Helper()
	count := map[chunkKey]int{}
	got := map[string][]sink.Row{}
	for _, r := range rows {
		count[chunkKey{r.DocID, r.ChunkIndex}]++
		if r.ChunkIndex >= 0 {
			got[r.DocID] = append(got[r.DocID], r)
		}
	}
	dups := 0
	for k, n := range count {
		if n != 1 {
			dups++
			if dups < 5 {
				t.Errorf("row %v appears %d times", k, n)
			}
		}
	}
	if dups > 0 {
		t.Fatalf("%d duplicated rows", dups)
	}
	want := annotateInProcess(t, docs, per)
	total := 0
	for _, d := range docs {
		g := got[d.ID]
		sort.Slice(g, func(i, j int) bool { return g[i].ChunkIndex < g[j].ChunkIndex })
		w := want[d.ID]
		if len(g) != len(w) {
			t.Fatalf("doc %s: %d chunks in the bucket, %d from worker annotate", d.ID, len(g), len(w))
		}
		for i := range g {
			if int(g[i].Begin) != w[i].Begin || int(g[i].End) != w[i].End || g[i].Label != w[i].Label || g[i].Text != w[i].Text {
				t.Fatalf("doc %s chunk %d: bucket %+v, annotate %+v", d.ID, i, g[i], w[i])
			}
		}
		total += len(g)
	}
	if total == 0 {
		t.Fatal("no chunks at all")
	}
	t.Logf("%d documents, %d chunks, each exactly once and equal to annotate", len(docs), total)
}

func annotateInProcess(t *testing.T, docs []document.Document, per int) map[string][]ner.Chunk {
	t.Helper()
	b, err := model.LoadBundle(testModel)
	if err != nil {
		t.Fatal(err)
	}
	s, err := model.NewSession(b, model.WithBatchSize(16), model.WithDevice(model.Device{Kind: "cpu"}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := ner.DefaultOptions()
	if per <= 0 {
		o.Packing = ner.PackDocument
	}
	a, err := ner.New(b.Tokenizer, s, b.Labels, o)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan ner.Item[struct{}], 16)
	res := make(chan ner.Annotated[struct{}], 16)
	errc := make(chan error, 1)
	go func() { errc <- ner.Ordered(context.Background(), a.Run, in, res) }()
	go func() {
		defer close(in)
		for i, d := range docs {
			in <- ner.Item[struct{}]{Doc: ner.Doc{ID: d.ID, Text: d.Content()}}
			if per > 0 && (i+1)%per == 0 || i == len(docs)-1 {
				in <- ner.Item[struct{}]{Marker: true} // end of the record
			}
		}
	}()
	out := map[string][]ner.Chunk{}
	en := enrich.Default() // worker run's defaults: abbreviation typing (consistency off)
	for r := range res {
		if r.Marker {
			continue
		}
		for _, c := range en.Apply(r.Result.Doc.Text, r.Result.Chunks, nil) {
			out[r.Result.Doc.ID] = append(out[r.Result.Doc.ID], c.Chunk)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(docs []document.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// TestTwoWorkersExactlyOnce: 4 partitions, 2 workers in one group.
func TestTwoWorkersExactlyOnce(t *testing.T) {
	c := newCluster(t, 4)
	docs := testDocs(t, 120)
	c.startWorker(0)
	c.startWorker(1)
	const per = 3
	c.publish(docs, per, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()
	checkExactlyOnce(t, rows, docs, per)
	checkDuckDB(t, c.out, len(rows))
}

// TestTwoWorkersExactlyOnceS3 is the same run against an S3 API (gofakes3
// over plain HTTP, the aws-sdk-go-v2 client through gocloud's s3blob).
func TestTwoWorkersExactlyOnceS3(t *testing.T) {
	c := newCluster(t, 4)
	backend := s3mem.New()
	if err := backend.CreateBucket("nerstream"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_CA_BUNDLE", "") // the client must not depend on it either way
	c.outURL = "s3://nerstream/annotations?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
	docs := testDocs(t, 60)
	c.startWorker(0)
	c.startWorker(1)
	const per = 3
	c.publish(docs, per, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()
	checkExactlyOnce(t, rows, docs, per)
}

// TestCrashRestartExactlyOnce kills workers with SIGKILL at random moments
// while documents stream in, restarts them, and checks the union of files;
// on kfake and on Apache Kafka.
func TestCrashRestartExactlyOnce(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testCrashRestartExactlyOnce(t, kind) })
	}
}

func testCrashRestartExactlyOnce(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 4)
	docs := testDocs(t, 160)
	c.startWorker(0)
	c.startWorker(1)
	done := make(chan struct{})
	// ~16 s of publishing, so that every kill lands while records stream in.
	const per = 2
	go func() { defer close(done); c.publish(docs, per, 200*time.Millisecond) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	for kills < 4 {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		i := rng.IntN(2)
		c.signal(i, syscall.SIGKILL)
		kills++
		// kfake (unlike Kafka) never expires a member killed while the
		// broker holds its JoinGroup response, so its partitions would stay
		// assigned to a dead member: let the old member expire (the
		// survivor owns every partition) and the restarted one join before
		// the next kill.
		c.waitMetric(1-i, metrics.NamePartitions, 4, 30*time.Second)
		c.startWorker(i)
		c.waitJoined(i, 30*time.Second)
	}
	<-done
	rows := c.waitRows(ids(docs), 150*time.Second)
	c.stopAll()
	t.Logf("%d SIGKILLs", kills)
	checkExactlyOnce(t, rows, docs, per)
}

// TestZombieAddsNoDuplicates pauses a worker (SIGSTOP) past its session
// timeout so the group gives its partitions away, then resumes it; on kfake
// and on Apache Kafka.
func TestZombieAddsNoDuplicates(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testZombieAddsNoDuplicates(t, kind) })
	}
}

func testZombieAddsNoDuplicates(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 4)
	docs := testDocs(t, 120)
	c.startWorker(0)
	c.startWorker(1)
	done := make(chan struct{})
	const per = 2
	go func() { defer close(done); c.publish(docs, per, 30*time.Millisecond) }()
	c.waitMetric(0, metrics.NameRecords, 1, 30*time.Second) // worker 0 is consuming
	c.signal(0, syscall.SIGSTOP)
	// Past the session timeout (2s) the group gives worker 0's partitions
	// to worker 1.
	c.waitMetric(1, metrics.NamePartitions, 4, 30*time.Second)
	c.signal(0, syscall.SIGCONT)
	<-done
	c.waitRows(ids(docs), 150*time.Second)
	// SIGTERM drains both workers: any late zombie upload has landed when
	// they have exited.
	c.stopAll()
	rows := c.waitRows(ids(docs), 10*time.Second)
	// The scenario really happened: the paused worker lost its partitions
	// and the other one took them over.
	log1, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), "worker-1.log"))
	log0, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), "worker-0.log"))
	if n := strings.Count(string(log1), `"msg":"partition assigned"`); n < 3 {
		t.Fatalf("worker 1 was assigned partitions %d times; the zombie's partitions never moved", n)
	}
	if !strings.Contains(string(log0), `"msg":"partition revoked"`) {
		t.Fatal("the paused worker never lost a partition")
	}
	checkExactlyOnce(t, rows, docs, per)
}

// checkDuckDB reads the bucket with DuckDB (an independent Parquet reader).
func checkDuckDB(t *testing.T, dir string, wantRows int) {
	t.Helper()
	script, _ := filepath.Abs("../internal/sink/testdata/duckdb_check.js")
	nodeModules, _ := filepath.Abs("../.cache/node/node_modules")
	if _, err := os.Stat(filepath.Join(nodeModules, "@duckdb", "node-api")); err != nil {
		t.Skipf("DuckDB for node not installed (run make setup): %v", err)
	}
	cmd := exec.Command("node", script, dir)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb check: %v\n%s", err, out)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	var cnt struct {
		N        int `json:"n"`
		Distinct int `json:"distinct_chunks"`
	}
	json.Unmarshal(raw["count"], &cnt)
	if cnt.N != wantRows || cnt.Distinct != wantRows {
		t.Fatalf("DuckDB sees %d rows, %d distinct (doc_id, chunk_index); want %d and %d", cnt.N, cnt.Distinct, wantRows, wantRows)
	}
	t.Logf("DuckDB: %d rows, %d distinct (doc_id, chunk_index)", cnt.N, cnt.Distinct)
}

func develDocsPath() string {
	p, _ := corpus.Path("devel.docs.jsonl")
	return p
}

// TestAnnotateCLI runs `worker annotate` on JSONL input (including a very
// long document) and checks every chunk's offsets against the input text.
func TestAnnotateCLI(t *testing.T) {
	in := "../testdata/docs/sample.jsonl"
	out, err := exec.Command(filepath.Join(binaries(t), "worker"), "annotate", "--model", testModel, "--in", in).Output()
	if err != nil {
		t.Fatalf("worker annotate: %v", err)
	}
	text := inputTexts(t, in)
	lastEnd := map[string]int{}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c ner.Chunk
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		r := text[c.DocID]
		if c.Begin < 0 || c.End > len(r) || string(r[c.Begin:c.End]) != c.Text {
			t.Fatalf("chunk %+v does not match its document", c)
		}
		lastEnd[c.DocID] = max(lastEnd[c.DocID], c.End)
		n++
	}
	// The longest document gets entities near its end too (no truncation).
	longest := ""
	for id, r := range text {
		if len(r) > len(text[longest]) {
			longest = id
		}
	}
	if l := len(text[longest]); lastEnd[longest] < l*3/4 {
		t.Fatalf("longest document (%d chars): last chunk ends at %d", l, lastEnd[longest])
	}
	t.Logf("%d chunks over %d documents", n, len(text))
}

// TestDemoRunsAndResumes runs `worker demo` twice over one data directory:
// the first run annotates the PubMed test files end to end, the second finds
// everything done (broker data and manifest persisted).
func TestDemoRunsAndResumes(t *testing.T) {
	bin := filepath.Join(binaries(t), "worker")
	data := t.TempDir()
	run := func() string {
		cmd := exec.Command(bin, "demo", "--model", testModel, "--data-dir", data, "--input", "../testdata/pubmed",
			"--gold", develDocsPath(), "--timeout", "3m")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("worker demo: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	for _, want := range []string{"203 annotated, 3 delete tombstones", "docs/s", "slot utilization", "against gold", "read_parquet("} {
		if !strings.Contains(first, want) {
			t.Fatalf("first demo run lacks %q:\n%s", want, first)
		}
	}
	second := run()
	if !strings.Contains(second, "nothing new to annotate") || !strings.Contains(second, "203 annotated") {
		t.Fatalf("second demo run did not resume:\n%s", second)
	}
}

// TestWorkerStartupErrorsAreClear: an unreachable broker or bucket, or a
// broken model, stops `worker run` at start-up with an error naming it.
func TestWorkerStartupErrorsAreClear(t *testing.T) {
	bin := filepath.Join(binaries(t), "worker")
	b, err := broker.Start(context.Background(), broker.WithTopic("docs", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	broken := t.TempDir()
	copyDir(t, testModel, broken)
	os.WriteFile(filepath.Join(broken, "model.onnx"), []byte("not a graph"), 0o644)
	good := strings.Join(b.Addrs(), ",")
	cases := []struct {
		name, brokers, out, model, want string
	}{
		{"unreachable broker", "127.0.0.1:1", "file://" + t.TempDir(), testModel, "127.0.0.1:1"},
		{"unreachable bucket", good, "s3://bucket/p?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1", testModel, "is not usable"},
		{"broken model", good, "file://" + t.TempDir(), broken, "model.onnx"},
		{"in-memory bucket", good, "mem://out/ner", testModel, "not durable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, "run", "--brokers", c.brokers, "--topic", "docs", "--model", c.model, "--out", c.out, "--metrics-addr", "")
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y")
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("worker run succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("error does not mention %q:\n%s", c.want, out)
			}
			if d := time.Since(start); d > 60*time.Second {
				t.Fatalf("took %s to fail", d)
			}
		})
	}
}

// TestRebalanceJoinAndLeave: one worker owns all 4 partitions and streams;
// a second joins (the group splits the partitions between them), then leaves
// with SIGTERM (the first takes its partitions back), while documents keep
// coming. The output holds every chunk exactly once, equal to annotate; on
// kfake and on Apache Kafka.
func TestRebalanceJoinAndLeave(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testRebalanceJoinAndLeave(t, kind) })
	}
}

func testRebalanceJoinAndLeave(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 4)
	docs := testDocs(t, 90)
	const per = 2
	c.startWorker(0)
	c.waitMetric(0, metrics.NamePartitions, 4, 60*time.Second)
	c.publish(docs[:30], per, 0)
	c.waitRows(ids(docs[:30]), 120*time.Second)

	// Join: the second member gets partitions, the first gives them up.
	c.startWorker(1)
	c.waitJoined(1, 60*time.Second)
	c.waitMetricFunc(0, metrics.NamePartitions, "≤ 3", func(v float64) bool { return v <= 3 }, 60*time.Second)
	c.publish(docs[30:60], per, 0)
	c.waitRows(ids(docs[:60]), 120*time.Second)
	c.mu.Lock()
	s1, err := metrics.Scrape(context.Background(), c.metrics[1])
	c.mu.Unlock()
	if err != nil || s1[metrics.NameRecords] == 0 {
		t.Fatalf("the joined worker processed no record (%v, %v)", s1[metrics.NameRecords], err)
	}

	// Leave: SIGTERM, the survivor owns every partition again.
	c.mu.Lock()
	leaver := c.workers[1]
	c.mu.Unlock()
	leaver.Process.Signal(syscall.SIGTERM)
	if err := leaver.Wait(); err != nil {
		t.Fatalf("worker 1 exited with %v after SIGTERM", err)
	}
	c.mu.Lock()
	delete(c.workers, 1)
	c.mu.Unlock()
	c.waitMetric(0, metrics.NamePartitions, 4, 60*time.Second)
	c.publish(docs[60:], per, 0)
	rows := c.waitRows(ids(docs), 120*time.Second)
	c.stopAll()
	log0, _ := os.ReadFile(filepath.Join(filepath.Dir(c.out), "worker-0.log"))
	if n := strings.Count(string(log0), `"msg":"partition revoked"`); n < 1 {
		t.Fatal("worker 0 never gave up a partition when worker 1 joined")
	}
	if n := strings.Count(string(log0), `"msg":"partition assigned"`); n < 5 {
		t.Fatalf("worker 0 was assigned partitions %d times; it never took worker 1's back", n)
	}
	checkExactlyOnce(t, rows, docs, per)
}

// waitMetricFunc waits until worker i's /metrics reports name satisfying ok.
func (c *cluster) waitMetricFunc(i int, name, want string, ok func(float64) bool, timeout time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	addr := c.metrics[i]
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last float64
	for {
		if s, err := metrics.Scrape(ctx, addr); err == nil {
			if last = s[name]; ok(last) {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("worker %d: %s is %v, not %s, after %s", i, name, last, want, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
