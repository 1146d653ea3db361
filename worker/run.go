package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/internal/stream"
)

// runFlags are the settings of `worker run`.
type runFlags struct {
	model          modelFlags
	kafka          queue.Config
	topic, group   string
	out, from, dlq string
	metricsAddr    string
	flushRecords   int
	flushBytes     int64
	flushInterval  time.Duration
	idleGrace      time.Duration
	shutdown       time.Duration
	session        time.Duration
	heartbeat      time.Duration
	joinBackoff    time.Duration
	rebalance      time.Duration
	idleInterval   time.Duration
	logLevel       string
	limits         limitFlags
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.model.register(fs)
	f.kafka.RegisterFlags(fs)
	fs.StringVar(&f.topic, "topic", "pubmed", "Kafka topic of document batches")
	fs.StringVar(&f.group, "group", "", "consumer group (default nerstream-<topic>-<model>-<version12>, so a new model replays the topic)")
	fs.StringVar(&f.out, "out", "", "output bucket URL: s3://bucket/prefix?endpoint=…&use_path_style=true, gs://, azblob://, file:///dir")
	fs.StringVar(&f.from, "from", "committed", "where a partition with no output yet starts: committed (else earliest), earliest or latest")
	fs.StringVar(&f.dlq, "dlq-topic", "", "dead-letter topic (default <topic>.dlq)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9090", "address for /metrics and /healthz (empty: off)")
	fs.IntVar(&f.flushRecords, "flush-records", 250, "Kafka records per output file (a record carries up to 64 documents; the open file is held in memory)")
	fs.Int64Var(&f.flushBytes, "flush-bytes", 32<<20, "record bytes per output file")
	fs.DurationVar(&f.flushInterval, "flush-interval", time.Minute, "a file never spans two record-timestamp buckets of this width")
	fs.DurationVar(&f.idleGrace, "idle-grace", 10*time.Second, "an idle partition's file is closed this long after its bucket ends")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 60*time.Second, "on SIGTERM, finish in-flight work and uploads within this time")
	fs.DurationVar(&f.session, "session-timeout", 30*time.Second, "consumer group session timeout")
	fs.DurationVar(&f.heartbeat, "heartbeat-interval", 3*time.Second, "consumer group heartbeat interval")
	fs.DurationVar(&f.joinBackoff, "join-backoff", time.Second, "pause before retrying a failed group join")
	fs.DurationVar(&f.rebalance, "rebalance-timeout", 30*time.Second, "how long the coordinator waits for members to rejoin in a rebalance")
	fs.DurationVar(&f.idleInterval, "idle-interval", 5*time.Second, "how often an idle partition is checked for a file to close")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.limits.register(fs)
}

func newJSONLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.Usage = config.Usage(fs, "worker run --brokers B --topic T --model DIR --out URL [--group G]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	log, err := newJSONLogger(f.logLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	started := false
	err = runWorker(ctx, f, log, func(*stream.Worker) { started = true })
	if err != nil && ctx.Err() != nil && !started {
		// SIGTERM during start-up: nothing was consumed, nothing is lost.
		log.Info("stopped during start-up", "err", err)
		return nil
	}
	return err
}

// runWorker wires model, sink, queue and stream; ctx ending means "drain and
// exit". onReady, when set, is called once the worker consumes.
func runWorker(ctx context.Context, f runFlags, log *slog.Logger, onReady func(*stream.Worker)) error {
	if len(f.kafka.Brokers) == 0 {
		return errors.New("--brokers (or NERSTREAM_BROKERS) is required")
	}
	if f.out == "" {
		return errors.New("--out (or NERSTREAM_OUT) is required")
	}
	if err := f.kafka.Validate(); err != nil {
		return err
	}
	if err := checkDurableOut(f.out); err != nil {
		return err
	}
	limits, err := f.limits.limits()
	if err != nil {
		return err
	}
	from, err := queue.ParseFrom(f.from)
	if err != nil {
		return err
	}
	if f.model.packing == "stream" {
		return errors.New("--packing stream makes a document's output depend on its neighbours in a batch, which breaks reproducible files; use document or sentence")
	}
	m := metrics.New()
	if err := m.Serve(ctx, f.metricsAddr, log); err != nil {
		return err
	}
	b, sess, ann, err := f.model.open(log)
	if err != nil {
		return err
	}
	defer sess.Close()
	ann.OnBatch = m.ObserveBatch

	// Start-up checks fail fast with clear errors: bucket and broker.
	store, err := sink.OpenBucket(ctx, f.out, sink.WithLogger(log))
	if err != nil {
		return err
	}
	defer store.Close()
	modelDir, err := sink.ModelDir(b.Name, b.Version)
	if err != nil {
		return err
	}
	if _, _, err := store.LastOffset(ctx, modelDir, f.topic, 0); err != nil {
		return fmt.Errorf("output %s is not usable: %w", f.out, err)
	}
	group := f.group
	if group == "" {
		group = defaultGroup(f.topic, b.ID())
	}
	dlqTopic := f.dlq
	if dlqTopic == "" {
		dlqTopic = f.topic + ".dlq"
	}
	dlq, err := queue.NewDeadLetter(ctx, f.kafka.Brokers, dlqTopic, queue.WithConfig(f.kafka), queue.WithLogger(log))
	if err != nil {
		return err
	}
	defer dlq.Close()

	w, err := stream.New(stream.Config{
		Topic: f.topic, ModelName: b.Name, ModelVersion: b.Version, ModelDir: modelDir,
		FlushRecords: f.flushRecords, FlushBytes: f.flushBytes, FlushInterval: f.flushInterval, IdleGrace: f.idleGrace,
		Limits: limits,
	}, ann, store, dlq, m, log)
	if err != nil {
		return err
	}
	g, err := queue.NewGroup(f.kafka.Brokers, f.topic, group,
		queue.WithConfig(f.kafka), queue.WithLogger(log), queue.WithFrom(from),
		queue.WithSessionTimeout(f.session), queue.WithHeartbeatInterval(f.heartbeat),
		queue.WithJoinGroupBackoff(f.joinBackoff), queue.WithRebalanceTimeout(f.rebalance), queue.WithIdleInterval(f.idleInterval),
		queue.WithStuckReporter(queue.DefaultStuckAfter, m.SetStuck))
	if err != nil {
		return err
	}
	w.SetGroup(g)
	if err := g.Ping(ctx); err != nil {
		return err
	}

	// The worker's own context outlives ctx by the shutdown timeout so that
	// in-flight batches and uploads finish after SIGTERM.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	werr := make(chan error, 1)
	go func() { werr <- w.Run(wctx) }()
	gctx, gcancel := context.WithCancel(ctx)
	defer gcancel()
	gerr := make(chan error, 1)
	go func() { gerr <- g.Run(gctx, w) }()
	log.Info("worker running", "model", b.ID(), "device", sess.Device().String(), "topic", f.topic, "group", group,
		"out", f.out, "dlq", dlqTopic, "flush_records", f.flushRecords, "flush_interval", f.flushInterval.String())
	m.SetReady(true)
	if onReady != nil {
		onReady(w)
	}
	lagTick := time.NewTicker(5 * time.Second)
	defer lagTick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: stop fetching, drain, upload final files", "timeout", f.shutdown.String())
			break loop
		case err := <-gerr:
			gerr = nil
			if err != nil && ctx.Err() == nil {
				runErr = fmt.Errorf("consumer group: %w", err)
			}
			break loop
		case err := <-werr:
			werr = nil
			runErr = err
			break loop
		case <-lagTick.C:
			m.SetLag(g.Lag())
		}
	}
	m.SetReady(false)
	deadline := time.Now().Add(f.shutdown)
	gcancel()
	if gerr != nil {
		// Partition loops stop with gctx; leaving the group can hang in a
		// JoinGroup the broker holds for the rebalance timeout. Do not wait
		// for that longer than the shutdown budget: the broker drops us after
		// the session timeout anyway.
		select {
		case <-gerr:
		case <-time.After(f.shutdown / 2):
			log.Warn("consumer group did not leave in time; draining anyway")
		}
	}
	if werr != nil {
		w.Stop() // safe even if the group is still winding down
		select {
		case err := <-werr:
			if runErr == nil && err != nil && !errors.Is(err, context.Canceled) {
				runErr = err
			}
		case <-time.After(time.Until(deadline)):
			wcancel()
			runErr = errors.Join(runErr, fmt.Errorf("shutdown took longer than %s; unfinished files are re-read by the next owner", f.shutdown))
		}
	}
	st := ann.Stats()
	log.Info("worker stopped", "docs", st.Docs, "windows", st.Windows, "chunks", st.Chunks, "slot_utilization", st.SlotUtilization())
	return runErr
}
