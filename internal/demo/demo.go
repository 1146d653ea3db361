package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
)

// Config describes one demo run.
type Config struct {
	Model       string        // model bundle directory
	Brokers     []string      // an external Kafka cluster's bootstrap brokers; empty: the embedded broker
	DataDir     string        // broker data, bucket, manifest and logs; a second run resumes
	Input       string        // PubMed files or directories, comma-separated
	Workers     int           // worker processes in the consumer group
	Partitions  int           // partitions of the demo topic
	Topic       string        // topic name
	Gold        string        // gold entities to score the output against ("" to skip)
	Timeout     time.Duration // give up after this long
	WorkerBin   string        // the worker binary (runs `worker run`)
	ProducerBin string        // the producer binary
	Stdout      io.Writer     // the report
	Stderr      io.Writer     // progress and status lines
}

// Run runs the whole system in one process tree: an embedded Kafka-protocol
// broker persisted under DataDir (or the external cluster at cfg.Brokers), N `worker run` processes in one consumer
// group writing to a file:// bucket, and the producer over Input; it waits
// until the output covers every record, then reports what was found.
func Run(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	d, err := newDemo(cfg)
	if err != nil {
		return err
	}
	// 1. Broker.
	if len(cfg.Brokers) > 0 {
		d.brokers = cfg.Brokers
		d.say("Kafka brokers %s", strings.Join(d.brokers, ","))
	} else {
		brk, err := broker.Start(ctx, broker.WithDataDir(filepath.Join(d.dir, "kafka")), broker.WithPartitions(cfg.Partitions),
			broker.WithGroupMinSessionTimeout(time.Second), broker.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			return err
		}
		defer brk.Close()
		d.brokers = brk.Addrs()
		d.say("embedded Kafka-protocol broker on %s (data in %s)", strings.Join(d.brokers, ","), brk.DataDir())
	}

	// 2. Topic, then workers; let the group settle before publishing, so
	// that no worker annotates records only to lose their partition in the
	// next rebalance.
	if err := queue.EnsureTopic(ctx, queue.Config{Brokers: d.brokers}, cfg.Topic, cfg.Partitions, 1); err != nil {
		return err
	}
	defer d.stopWorkers()
	if err := d.startWorkers(); err != nil {
		return err
	}
	if err := d.waitAssigned(ctx); err != nil {
		d.say("%v; publishing anyway", err)
	}

	// 3. Producer (publishes only files not published before).
	t0 := time.Now()
	if err := d.publish(ctx); err != nil {
		return err
	}

	// 4. Wait until the bucket covers every record of every partition.
	store, err := sink.OpenBucket(ctx, "file://"+d.outDir)
	if err != nil {
		return err
	}
	defer store.Close()
	total, err := d.waitCovered(ctx, store, t0)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	var wstats workerStats
	for _, a := range d.metricsAddrs {
		wstats.add(scrape(ctx, a))
	}
	d.stopWorkers()

	// 5. Report.
	rows, err := store.ReadAll(ctx, d.mdir)
	if err != nil {
		return err
	}
	return report(cfg.Stdout, rows, reportInput{
		model: d.bundle.ID(), topic: cfg.Topic, outDir: d.outDir, mdir: d.mdir, records: total, elapsed: elapsed,
		stats: wstats, gold: cfg.Gold, store: store,
	})
}

// demo is one run's state: where things are and the worker processes.
type demo struct {
	cfg          Config
	bundle       *model.Bundle
	mdir         string // output directory of the model
	dir, outDir  string // absolute data dir and bucket dir
	brokers      []string
	procs        []*exec.Cmd
	logs         []*os.File
	metricsAddrs []string
}

func newDemo(cfg Config) (*demo, error) {
	bundle, err := model.LoadBundle(cfg.Model)
	if err != nil {
		return nil, err
	}
	mdir, err := sink.ModelDir(bundle.Name, bundle.Version)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	d := &demo{cfg: cfg, bundle: bundle, mdir: mdir, dir: abs, outDir: filepath.Join(abs, "bucket")}
	for _, dir := range []string{d.outDir, filepath.Join(abs, "logs")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	for _, b := range []string{cfg.WorkerBin, cfg.ProducerBin} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("demo: %w (run make build)", err)
		}
	}
	return d, nil
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.cfg.Stderr, "demo: "+format+"\n", a...) }

// startWorkers starts cfg.Workers `worker run` processes, each with its own
// metrics address and log file.
func (d *demo) startWorkers() error {
	for i := range d.cfg.Workers {
		port, err := freePort()
		if err != nil {
			return err
		}
		maddr := "127.0.0.1:" + strconv.Itoa(port)
		logPath := filepath.Join(d.dir, "logs", fmt.Sprintf("worker-%d.log", i))
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		d.logs = append(d.logs, lf)
		wc := exec.Command(d.cfg.WorkerBin, "run", "--brokers", strings.Join(d.brokers, ","), "--topic", d.cfg.Topic, "--model", d.cfg.Model,
			"--out", "file://"+d.outDir, "--group", "demo-"+d.bundle.ID(), "--metrics-addr", maddr, "--flush-records", "8", "--flush-interval", "5s",
			"--idle-grace", "1s", "--idle-interval", "500ms", "--session-timeout", "6s", "--heartbeat-interval", "500ms",
			"--join-backoff", "300ms", "--intra-threads", "1")
		wc.Stdout, wc.Stderr = lf, lf
		if err := wc.Start(); err != nil {
			return err
		}
		d.procs = append(d.procs, wc)
		d.metricsAddrs = append(d.metricsAddrs, maddr)
		d.say("worker %d: pid %d, metrics http://%s/metrics, log %s", i, wc.Process.Pid, maddr, logPath)
	}
	return nil
}

// stopWorkers sends SIGTERM to every worker and waits for them (idempotent).
func (d *demo) stopWorkers() {
	for _, p := range d.procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range d.procs {
		p.Wait()
	}
	for _, l := range d.logs {
		l.Close()
	}
	d.procs, d.logs = nil, nil
}

// publish runs the producer over cfg.Input.
func (d *demo) publish(ctx context.Context) error {
	var inputs []string
	for _, p := range strings.Split(d.cfg.Input, ",") {
		if p = strings.TrimSpace(p); p != "" {
			inputs = append(inputs, p)
		}
	}
	pargs := append([]string{"pubmed", "--brokers", strings.Join(d.brokers, ","), "--topic", d.cfg.Topic, "--partitions", strconv.Itoa(d.cfg.Partitions),
		"--manifest", filepath.Join(d.dir, "manifest.json"), "--rejects", filepath.Join(d.dir, "rejects.jsonl"), "--log-level", "warn"}, inputs...)
	d.say("producer %s", strings.Join(pargs, " "))
	pc := exec.CommandContext(ctx, d.cfg.ProducerBin, pargs...)
	pc.Stdout, pc.Stderr = d.cfg.Stderr, d.cfg.Stderr
	if err := pc.Run(); err != nil {
		return fmt.Errorf("demo: producer: %w", err)
	}
	return nil
}

// waitCovered shows progress until the bucket's files cover every record of
// the topic, and returns the number of records.
func (d *demo) waitCovered(ctx context.Context, store *sink.Store, t0 time.Time) (int64, error) {
	hwm, err := queue.HighWatermarks(ctx, queue.Config{Brokers: d.brokers}, d.cfg.Topic)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, h := range hwm {
		total += h
	}
	var bar *progressbar.ProgressBar
	if f, ok := d.cfg.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetDescription("records annotated and stored"),
			progressbar.OptionSetWriter(d.cfg.Stderr), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	var lastLine time.Time
	for {
		var done int64
		for p := range hwm {
			last, ok, err := store.LastOffset(ctx, d.mdir, d.cfg.Topic, p)
			if err != nil {
				return 0, err
			}
			if ok {
				done += last + 1
			}
		}
		if bar != nil {
			bar.Set64(done)
		} else if time.Since(lastLine) >= 2*time.Second || done >= total {
			d.say("%d of %d records annotated and stored (%s)", done, total, time.Since(t0).Round(time.Second))
			lastLine = time.Now()
		}
		if done >= total {
			return total, nil
		}
		for i, p := range d.procs {
			if p.ProcessState != nil {
				return 0, fmt.Errorf("demo: worker %d exited early; see its log", i)
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("demo: output covers %d of %d records after %s: %w", done, total, time.Since(t0).Round(time.Second), ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// waitAssigned waits until every worker owns a partition and together they
// own all of them (nerstream_assigned_partitions), or 60 s pass.
func (d *demo) waitAssigned(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		total, all := 0, true
		for _, a := range d.metricsAddrs {
			n := int(scrape(ctx, a).partitions)
			total += n
			all = all && n > 0
		}
		if total == d.cfg.Partitions && (all || len(d.metricsAddrs) > d.cfg.Partitions) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the consumer group did not settle within 60s")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// workerStats are summed from the workers' /metrics.
type workerStats struct {
	docs, windows, batches, slots, used, partitions float64
}

func (s *workerStats) add(o workerStats) {
	s.docs += o.docs
	s.windows += o.windows
	s.batches += o.batches
	s.slots += o.slots
	s.used += o.used
}

// scrape reads one worker's counters (zero when it does not answer).
func scrape(ctx context.Context, addr string) workerStats {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := metrics.Scrape(ctx, addr)
	if err != nil {
		return workerStats{}
	}
	return workerStats{docs: s[metrics.NameDocuments], windows: s[metrics.NameWindows], batches: s[metrics.NameBatches],
		slots: s[metrics.NameTokenSlots], used: s[metrics.NameTokenSlotsUsed], partitions: s[metrics.NamePartitions]}
}

type reportInput struct {
	model, topic, outDir, mdir string
	records                    int64
	elapsed                    time.Duration
	stats                      workerStats
	gold                       string
	store                      *sink.Store
}

func report(w io.Writer, rows []sink.Row, in reportInput) error {
	byDoc := map[string][]sink.Row{}
	perLabel := map[string]int{}
	docs, deletes := 0, 0
	for _, r := range rows {
		switch {
		case r.ChunkIndex == sink.DocumentMarker && r.Op == sink.OpDelete:
			deletes++
		case r.ChunkIndex == sink.DocumentMarker:
			docs++
		default:
			byDoc[r.DocID] = append(byDoc[r.DocID], r)
			perLabel[r.Label]++
		}
	}
	ids := make([]string, 0, len(byDoc))
	for id := range byDoc {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, "\nChunks of the first documents:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "doc_id\tv\t#\tbegin\tend\tlabel\tconf\ttext")
	for _, id := range ids[:min(3, len(ids))] {
		rs := byDoc[id]
		sort.Slice(rs, func(i, j int) bool { return rs[i].ChunkIndex < rs[j].ChunkIndex })
		for _, r := range rs[:min(8, len(rs))] {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%.2f\t%s\n", r.DocID, r.DocVersion, r.ChunkIndex, r.Begin, r.End, r.Label, r.Confidence, r.Text)
		}
		if len(rs) > 8 {
			fmt.Fprintf(tw, "%s\t\t…\t\t\t(%d more)\t\t\n", id, len(rs)-8)
		}
	}
	tw.Flush()

	files := 0
	filepath.Walk(in.outDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files++
		}
		return nil
	})
	fmt.Fprintf(w, "\nSummary (model %s, topic %s):\n", in.model, in.topic)
	fmt.Fprintf(w, "  records               %d\n", in.records)
	fmt.Fprintf(w, "  documents             %d annotated, %d delete tombstones\n", docs, deletes)
	labels := make([]string, 0, len(perLabel))
	total := 0
	for l, n := range perLabel {
		labels = append(labels, l)
		total += n
	}
	sort.Strings(labels)
	fmt.Fprintf(w, "  chunks                %d", total)
	for _, l := range labels {
		fmt.Fprintf(w, "  %s=%d", l, perLabel[l])
	}
	fmt.Fprintln(w)
	if in.stats.docs > 0 {
		fmt.Fprintf(w, "  this run              %d documents in %.1fs = %.1f docs/s from the start of publishing to the last file stored\n",
			docs+deletes, in.elapsed.Seconds(), float64(docs+deletes)/in.elapsed.Seconds())
		fmt.Fprintf(w, "  model                 %.0f windows in %.0f fixed [B,128] batches, slot utilization %.1f%%\n",
			in.stats.windows, in.stats.batches, 100*in.stats.used/max(in.stats.slots, 1))
	} else {
		fmt.Fprintf(w, "  this run              nothing new to annotate (the output already covered every record)\n")
	}
	fmt.Fprintf(w, "  output                %d Parquet files under %s/%s\n", files, in.outDir, in.mdir)
	if in.gold != "" {
		if err := scoreAgainstGold(w, rows, in.gold); err != nil {
			fmt.Fprintf(w, "  gold                  not scored: %v\n", err)
		}
	}
	fmt.Fprintf(w, "\nQuery it with DuckDB:\n  duckdb -c \"SELECT label, count(*) FROM read_parquet('%s/%s/**/*.parquet', hive_partitioning=true) WHERE chunk_index >= 0 GROUP BY label ORDER BY 2 DESC\"\n",
		in.outDir, in.mdir)
	return nil
}

// scoreAgainstGold scores the latest version of each gold document.
func scoreAgainstGold(w io.Writer, rows []sink.Row, path string) error {
	gold, err := eval.ReadDocs(path)
	if err != nil {
		return err
	}
	latest := map[string]int32{}
	for _, r := range rows {
		if r.ChunkIndex == sink.DocumentMarker && r.Op == sink.OpUpsert && r.DocVersion > latest[r.DocID] {
			latest[r.DocID] = r.DocVersion
		}
	}
	pred := map[string][]eval.Span{}
	for _, r := range rows {
		if r.ChunkIndex >= 0 && r.DocVersion == latest[r.DocID] {
			pred[r.DocID] = append(pred[r.DocID], eval.Span{Begin: int(r.Begin), End: int(r.End), Label: r.Label})
		}
	}
	sc := eval.NewScorer()
	n := 0
	for _, g := range gold {
		if _, ok := latest[g.ID]; !ok {
			continue
		}
		sc.Add(g.Entities, pred[g.ID])
		n++
	}
	if n == 0 {
		return errors.New("no gold document in the output")
	}
	r := sc.Report()
	fmt.Fprintf(w, "  against gold          exact-span micro F1 %.4f (P %.4f, R %.4f) over %d documents of %s\n", r.Micro.F1, r.Micro.Precision, r.Micro.Recall, n, path)
	return nil
}
